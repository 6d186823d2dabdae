/*
 * Recoder's GraphiQL page: renders GraphiQL (the `graphiql` package's UMD bundle, with React 18's
 * UMD builds, all served by this server) with the example tabs and settings the server put in the
 * page's JSON block (src/graphql/graphiql.ts). No inline script, nothing loaded from elsewhere.
 */
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('recoder-graphiql-config').textContent);

  /** localStorage under our own prefix: open and key-protected servers keep separate tabs. */
  function prefixedStorage(prefix) {
    var ownKeys = function () {
      var keys = [];
      for (var i = 0; i < localStorage.length; i++) {
        var key = localStorage.key(i);
        if (key !== null && key.indexOf(prefix) === 0) keys.push(key);
      }
      return keys;
    };
    return {
      getItem: function (key) {
        return localStorage.getItem(prefix + key);
      },
      setItem: function (key, value) {
        localStorage.setItem(prefix + key, value);
      },
      removeItem: function (key) {
        localStorage.removeItem(prefix + key);
      },
      clear: function () {
        ownKeys().forEach(function (key) {
          localStorage.removeItem(key);
        });
      },
      get length() {
        return ownKeys().length;
      },
    };
  }

  var storage;
  try {
    storage = prefixedStorage(config.storagePrefix);
    storage.getItem('probe');
  } catch {
    storage = undefined; // storage disabled: GraphiQL keeps its state in memory
  }

  var fetcher = GraphiQL.createFetcher({ url: new URL(config.endpoint, window.location.href).href });
  var props = {
    fetcher: fetcher,
    defaultTabs: config.tabs,
    defaultHeaders: config.authRequired ? config.tabs[0].headers : undefined,
    // With API keys on, the headers editor is open so the Authorization header is in view, and it is
    // kept in this browser (GraphiQL's settings turn that off).
    defaultEditorToolsVisibility: config.authRequired ? 'headers' : false,
    shouldPersistHeaders: config.authRequired,
    isHeadersEditorEnabled: true,
    storage: storage,
  };
  var root = document.getElementById('graphiql');
  root.className = '';
  root.textContent = '';
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
