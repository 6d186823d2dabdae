import { useEffect, useState } from 'preact/hooks';

/** The route in the URL's hash: `#/users/42?tab=x` → { path: ['users', '42'], query }. */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

function parse(hash: string): Route {
  const [p, q] = hash.replace(/^#\/?/, '').split('?');
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q ?? '') };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parse(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** A hash link: href('users', id) → "#/users/<id>". */
export const href = (...parts: (string | number)[]) => `#/${parts.map((p) => encodeURIComponent(String(p))).join('/')}`;

export const navigate = (to: string) => {
  location.hash = to.startsWith('#') ? to : `#${to}`;
};
