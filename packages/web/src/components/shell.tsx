import { type ReactNode, useState } from "react";
import { Link, useLocation } from "wouter";
import { useSession } from "../api/session.js";
import type { WhoAmI } from "../api/types.js";
import { type Theme, applyTheme, currentTheme } from "./theme.js";

const PAGES = [
  { href: "/", label: "Overview" },
  { href: "/explore", label: "Explorer" },
  { href: "/runs", label: "Agent runs" },
  { href: "/events", label: "Events" },
  { href: "/budgets", label: "Budgets" },
  { href: "/alerts", label: "Alerts" },
  { href: "/prices", label: "Prices" },
] as const;

function NavLink({ href, label }: { href: string; label: string }) {
  const [location] = useLocation();
  const active = href === "/" ? location === "/" : location.startsWith(href);
  return (
    <Link href={href} aria-current={active ? "page" : undefined}>
      {label}
    </Link>
  );
}

/** The frame around every page: navigation, who is signed in, theme, sign-out. */
export function Shell({ who, children }: { who: WhoAmI; children: ReactNode }) {
  const { signOut } = useSession();
  const [theme, setTheme] = useState<Theme>(currentTheme());
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    applyTheme(next, true);
    setTheme(next);
  };
  const projects = who.key.projects;
  return (
    <div className="shell">
      <aside className="sidebar">
        <Link href="/" className="brand">
          <img src="/favicon.svg" alt="" />
          Costtrail
        </Link>
        <nav className="nav" aria-label="Pages">
          {PAGES.map((p) => (
            <NavLink key={p.href} {...p} />
          ))}
        </nav>
        <div className="sidebar-foot">
          <div className="who" title={`Signed in with the key ${who.key.name}`} data-testid="who">
            {who.key.name}
            {projects !== null && <div className="small">Projects: {projects.join(", ")}</div>}
          </div>
          <div className="row">
            <button type="button" className="link" onClick={toggle} aria-label="Switch between light and dark">
              {theme === "dark" ? "Light theme" : "Dark theme"}
            </button>
            <button type="button" className="link" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </div>
      </aside>
      <main className="main">{children}</main>
    </div>
  );
}
