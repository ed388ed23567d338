import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useMemo } from 'react';
import { LiveContext } from './api/hooks';
import { getKey, onKeyChange } from './api/keys';
import { LiveClient, liveURL } from './api/live';
import { ConnectionBadge } from './components/ConnectionBadge';
import { HealthBanner } from './components/HealthBanner';
import { KeyButton, KeyDialog } from './components/KeyDialog';
import { Board } from './pages/board';
import { Link, usePath } from './router';

// The live board comes with the first load; the other pages load when first opened, so the
// board's bundle does not carry them.
const Publish = lazy(() => import('./pages/Publish').then((m) => ({ default: m.Publish })));
const Search = lazy(() => import('./pages/search').then((m) => ({ default: m.Search })));
const Pipeline = lazy(() => import('./pages/Pipeline').then((m) => ({ default: m.Pipeline })));

const PAGES = [
  { path: '/', label: 'Live', title: 'Live board', Page: Board },
  { path: '/publish', label: 'Publish', title: 'Publish', Page: Publish },
  { path: '/search', label: 'Search', title: 'Search', Page: Search },
  { path: '/pipeline', label: 'Pipeline', title: 'Pipeline', Page: Pipeline },
];

export function App() {
  const path = usePath();
  const live = useMemo(() => new LiveClient({ url: () => liveURL(location, getKey()) }), []);
  const queries = useQueryClient();
  useEffect(() => {
    live.start();
    // A new key may see what the old one could not (or no longer may): ask everything again.
    const offKey = onKeyChange(() => {
      live.reconnectNow();
      void queries.invalidateQueries();
    });
    // Back online, or back to a tab the browser had frozen: do not wait for the backoff.
    const wake = () => live.getStatus().state === 'reconnecting' && live.reconnectNow();
    const onVisible = () => document.visibilityState === 'visible' && wake();
    window.addEventListener('online', wake);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      offKey();
      window.removeEventListener('online', wake);
      document.removeEventListener('visibilitychange', onVisible);
      live.stop();
    };
  }, [live, queries]);

  const page = PAGES.find((p) => p.path === path);
  useEffect(() => {
    document.title = page ? `${page.title} · Pulse` : 'Not found · Pulse';
  }, [page]);

  return (
    <LiveContext.Provider value={live}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Pulse home">
          <svg aria-hidden="true" viewBox="0 0 32 32" width="26" height="26">
            <rect width="32" height="32" rx="8" fill="currentColor" />
            <path d="M4 17h6l3-8 5 15 3-7h7" fill="none" stroke="#fff" strokeWidth="2.6" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
          <span>Pulse</span>
        </Link>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <Link key={p.path} to={p.path} aria-current={p.path === path ? 'page' : undefined}>
              {p.label}
            </Link>
          ))}
        </nav>
        <div className="topbar-end">
          <ConnectionBadge />
          <KeyButton />
        </div>
      </header>
      <HealthBanner />
      <main id="main" tabIndex={-1}>
        {page ? (
          <Suspense fallback={<p className="muted">Loading…</p>}>
            <page.Page />
          </Suspense>
        ) : (
          <div className="empty">
            <strong>Nothing at {path}</strong>
            <p>
              <Link to="/">Back to the live board</Link>
            </p>
          </div>
        )}
      </main>
      <KeyDialog />
    </LiveContext.Provider>
  );
}
