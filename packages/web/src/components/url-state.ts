import { useCallback } from "react";
import { useLocation, useSearch } from "wouter";

/** A page's state in its URL's query string, so a view can be shared as a link. */
export function useUrlState(): [URLSearchParams, (change: (p: URLSearchParams) => void, opts?: { replace?: boolean }) => void] {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const set = useCallback(
    (change: (p: URLSearchParams) => void, opts: { replace?: boolean } = {}) => {
      const next = new URLSearchParams(search);
      change(next);
      const qs = next.toString();
      navigate(qs ? `${location}?${qs}` : location, { replace: opts.replace ?? false });
    },
    [search, location, navigate],
  );
  return [params, set];
}
