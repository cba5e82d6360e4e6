import type { ReactNode } from "react";
import { ApiError } from "../api/client.js";

/** Placeholder blocks the shape of what is loading, so the page does not jump when it arrives. */
export function Loading({ height = 120, label = "Loading…" }: { height?: number; label?: string }) {
  return <div className="skeleton" style={{ height }} role="status" aria-label={label} />;
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state" data-state="empty">
      <strong>{title}</strong>
      {children && <span className="small">{children}</span>}
    </div>
  );
}

/** What went wrong, in words: the server's message and code, never a stack trace. */
export function ErrorNote({ error, retry }: { error: unknown; retry?: () => void }) {
  const e = error instanceof ApiError ? error : null;
  const message = e ? e.message : "Something went wrong while loading this.";
  return (
    <div className="state error" role="alert" data-state="error">
      <strong>{e?.status === 503 ? "The server is busy" : "This could not be loaded"}</strong>
      <span className="small">{message}</span>
      {e && <code className="small muted">{e.code}</code>}
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}
