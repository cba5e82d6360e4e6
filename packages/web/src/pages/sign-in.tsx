import { type FormEvent, useState } from "react";
import { ApiError } from "../api/client.js";
import { useSession } from "../api/session.js";

/** Sign-in with a read key. The key goes to the server once, in a request body, and is not kept by the page. */
export function SignInPage({ message }: { message: string | null }) {
  const { signIn } = useSession();
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "Sign-in failed");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <div className="card">
        <div className="brand">
          <img src="/favicon.svg" alt="" />
          Costtrail
        </div>
        <h1>Sign in</h1>
        <p className="muted">
          Use an API key with the read scope, or the sign-in link the server printed when it started. A key limited to projects shows those
          projects only.
        </p>
        {message && (
          <p className="small" role="status" data-testid="signin-message">
            {message}
          </p>
        )}
        <form onSubmit={submit}>
          <label>
            API key
            <input
              type="password"
              autoComplete="off"
              spellCheck={false}
              placeholder="ct_…"
              value={key}
              onChange={(e) => setKey(e.target.value)}
              name="key"
              required
            />
          </label>
          {error && (
            <p className="error small" role="alert">
              {error}
            </p>
          )}
          <button className="primary" type="submit" disabled={busy || key.trim() === ""}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </div>
    </main>
  );
}
