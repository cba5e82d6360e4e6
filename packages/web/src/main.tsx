import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiError } from "./api/client.js";
import { SessionProvider } from "./api/session.js";
import { App } from "./app.js";
import { applyTheme, currentTheme } from "./components/theme.js";
import "./styles.css";

applyTheme(currentTheme());

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      refetchOnWindowFocus: false,
      // A wrong request stays wrong; a busy server (503) or a dropped connection may not.
      retry: (failures, e) => failures < 2 && (!(e instanceof ApiError) || e.status === 503 || e.status === 0),
    },
  },
});

const root = document.getElementById("root");
if (root)
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queries}>
        <SessionProvider>
          <App />
        </SessionProvider>
      </QueryClientProvider>
    </StrictMode>,
  );
