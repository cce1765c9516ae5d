// Apollo Client for Crust: queries and mutations over HTTP as trusted documents (by the
// hash the build's manifest gives each operation), subscriptions over graphql-ws.
import { ApolloClient, HttpLink, InMemoryCache, from, split } from '@apollo/client';
import { setContext } from '@apollo/client/link/context';
import { onError } from '@apollo/client/link/error';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Observable, getMainDefinition } from '@apollo/client/utilities';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
import { createClient } from 'graphql-ws';
import { current, freshToken, refresh } from './session.js';

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql/ws`;

export const liveClient = createClient({
  url: wsUrl,
  // Asked again at every reconnection: the server closes the socket (4403) when the
  // session ends or the token expires; a token refreshed if need be opens the next one,
  // and without a session there is nothing to reconnect. A 1013 (the server could not
  // check the session, its database busy) is retried the same way, with back-off.
  connectionParams: async () => ({ accessToken: await freshToken() }),
  shouldRetry: () => current() !== null,
  retryAttempts: 5,
});

const auth = setContext(async (_, { headers }) => ({
  headers: { ...headers, authorization: `Bearer ${(await freshToken()) ?? ''}` },
}));

// A token refused anyway (revoked, or the clock off): one shared refresh, then retry.
const renew = onError(({ graphQLErrors, operation, forward }) => {
  if (graphQLErrors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED') && current()) {
    return new Observable((observer) => {
      refresh()
        .then(() => forward(operation).subscribe(observer))
        .catch((e) => observer.error(e));
    });
  }
});

const persisted = createPersistedQueryLink(
  generatePersistedQueryIdsFromManifest({
    loadManifest: () => import('../manifest/persisted-query-manifest.json'),
  }),
);

const http = from([renew, auth, persisted, new HttpLink({ uri: '/graphql' })]);

export const client = new ApolloClient({
  link: split(
    ({ query }) => {
      const d = getMainDefinition(query);
      return d.kind === 'OperationDefinition' && d.operation === 'subscription';
    },
    new GraphQLWsLink(liveClient),
    http,
  ),
  cache: new InMemoryCache(),
});
