import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { graphql, type ResultOf } from './graphql';

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      role
      authRequired
      keyPrefix
    }
  }
`);
export type Viewer = ResultOf<typeof ViewerQuery>['viewer'];

export const ViewerContext = createContext<Viewer>({ role: 'READER', authRequired: true, keyPrefix: null });
/** Who is using the dashboard: admin-only controls render only for ADMIN keys. */
export const useViewer = () => useContext(ViewerContext);
export const useIsAdmin = () => useContext(ViewerContext).role === 'ADMIN';
