import { useQueryClient } from "@tanstack/react-query";
import { type ReactNode, createContext, useCallback, useContext, useEffect, useState } from "react";
import { ApiError, api, whenSignedOut } from "./client.js";
import type { WhoAmI } from "./types.js";

type SessionState =
  | { readonly status: "checking" }
  | { readonly status: "signed-out"; readonly message: string | null }
  | { readonly status: "signed-in"; readonly who: WhoAmI };

interface SessionApi {
  readonly state: SessionState;
  signIn(key: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

/** The token of a start banner's sign-in link: after `#sign-in=`, never sent to the server in the URL. */
function takeLinkToken(): string | null {
  const m = /^#sign-in=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (!m) return null;
  // Out of the address bar, and so out of history, before anything else happens.
  history.replaceState(history.state, "", window.location.pathname + window.location.search);
  return m[1] ?? null;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: "checking" });
  const queries = useQueryClient();

  useEffect(() => {
    whenSignedOut((message) => {
      queries.clear();
      setState({ status: "signed-out", message: `You were signed out: ${message}` });
    });
    const link = takeLinkToken();
    (async () => {
      try {
        const current = await api.get<WhoAmI | { signed_in: false; session_ended?: boolean }>("/v1/sessions/current");
        if (current.signed_in) return setState({ status: "signed-in", who: current });
        // Not signed in: spend the link if there is one. Already signed in, a link stays unspent.
        if (link) return setState({ status: "signed-in", who: await api.post<WhoAmI>("/v1/sessions", { link }) });
        setState({ status: "signed-out", message: current.session_ended ? "Your session has ended; sign in again." : null });
      } catch (e) {
        setState({ status: "signed-out", message: e instanceof ApiError ? e.message : "Sign-in failed." });
      }
    })();
  }, [queries]);

  const signIn = useCallback(async (key: string) => {
    const who = await api.post<WhoAmI>("/v1/sessions", { key });
    setState({ status: "signed-in", who });
  }, []);

  const signOut = useCallback(async () => {
    await api.delete("/v1/sessions/current").catch(() => {});
    queries.clear();
    setState({ status: "signed-out", message: "You signed out." });
  }, [queries]);

  return <SessionContext.Provider value={{ state, signIn, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside SessionProvider");
  return s;
}
