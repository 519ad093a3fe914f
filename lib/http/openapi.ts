/**
 * GET /openapi.json: the OpenAPI 3.1 document of every HTTP route. test/openapi.test.ts keeps it
 * true: its paths and methods are exactly the route table's (routes.ts), each documented route is
 * served, and the statuses a test request gets are among those documented.
 */

const error = { $ref: '#/components/responses/Error' };
const json = (schema: object, description: string): object => ({ description, content: { 'application/json': { schema } } });
const path = (name: string, description: string, schema: object = { type: 'string' }): object => ({ name, in: 'path', required: true, description, schema });
const query = (name: string, description: string, schema: object = { type: 'string' }): object => ({ name, in: 'query', required: false, description, schema });

const namespace = path('namespace', 'a namespace without its slash: layout, bus, lobby, trigger, chat, sock', { type: 'string', pattern: '^[a-z][a-z0-9-]*$' });
const room = path('room', 'the room (percent-encoded)');
const receipt = { type: 'object', required: ['ok', 'offset', 'recipients'], properties: { ok: { const: true }, offset: { type: 'integer' }, recipients: { type: 'integer' } } };
const messageList = { type: 'array', items: { description: 'a message as HISTORY lists it in the namespace' } };
/** Statuses every authenticated route may answer besides its own. */
const refusals = { '400': error, '401': error, '403': error, '404': error, '405': error, '500': error, '503': error };
const apiKey = [{ apiKey: [] }, { bearer: [] }];
const keyOnly = [{ apiKey: [] }];
const adminOnly = [{ adminBasic: [] }];
/** The admin routes' refusals: 401 asks for credentials (WWW-Authenticate: Basic), never a redirect. */
const adminRefusals = { '401': error, '404': error, '405': error, '500': error };
const adminFile = (summary: string, parameters: object[] = []): object => ({
  get: { summary, security: adminOnly, parameters, responses: { '200': { description: 'the file (HTML, JavaScript or CSS)' }, '304': { description: 'not modified (ETag)' }, ...adminRefusals } },
});

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'notification service HTTP API',
    version: '1',
    description: 'Plain HTTP routes of the service (docs/PROTOCOL.md section 7). Every failure is {error: {code, message}} with the code of docs/PROTOCOL.md section 6.',
  },
  components: {
    securitySchemes: {
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'an --api-key (also as Authorization: Bearer <key>)' },
      bearer: { type: 'http', scheme: 'bearer', description: "a user's token (auth on): the rights of its rooms claim apply" },
      adminBasic: { type: 'http', scheme: 'basic', description: 'the admin page: user `admin`, password --admin-password or an API key (open only with --auth none and neither)' },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } } },
      },
    },
    responses: { Error: json({ $ref: '#/components/schemas/Error' }, 'refused: {error: {code, message}}') },
  },
  paths: {
    '/healthcheck': {
      get: { summary: 'liveness', responses: { '200': { description: 'OK (text/plain)' } } },
      head: { summary: 'liveness, no body', responses: { '200': { description: 'OK' } } },
    },
    '/readyz': {
      get: { summary: 'readiness: Redis (cluster) and the message store can serve', responses: { '200': { description: 'OK (text/plain)' }, '503': error } },
      head: { summary: 'readiness, no body', responses: { '200': { description: 'OK' }, '503': error } },
    },
    '/metrics': {
      get: {
        summary: "this node's Prometheus metrics (text format; docs/METRICS.md); with auth on an API key, unless --metrics-public",
        security: keyOnly,
        responses: { '200': { description: 'the metrics (text/plain; version=0.0.4)' }, '401': error },
      },
      head: { summary: 'the metrics, no body', security: keyOnly, responses: { '200': { description: 'OK' }, '401': error } },
    },
    '/openapi.json': { get: { summary: 'this document', responses: { '200': json({ type: 'object' }, 'the OpenAPI document') } } },
    '/bus-message/{room}': {
      post: {
        summary: 'publish the JSON body to a /bus room (EVENT, sender POST)',
        security: keyOnly,
        parameters: [room, query('store', 'true: answered once durably stored', { type: 'boolean' })],
        requestBody: { required: true, content: { 'application/json': { schema: {} } } },
        responses: { '200': json({ ...receipt, properties: { ...receipt.properties, room: { type: 'string' } } }, 'delivered'), '413': error, ...refusals },
      },
    },
    '/publish/{namespace}/{room}': {
      post: {
        summary: "publish the JSON body to a room of any namespace that takes HTTP messages, as its members get a message (sender POST); an API key or a token with the publish right",
        security: apiKey,
        parameters: [namespace, room, query('store', 'true: answered once durably stored', { type: 'boolean' })],
        requestBody: { required: true, content: { 'application/json': { schema: {} } } },
        responses: { '200': json(receipt, 'delivered to `recipients` members on every node and protocol'), '413': error, ...refusals },
      },
    },
    '/events/{namespace}/{room}': {
      get: {
        summary: 'the room as a Server-Sent Events stream (more rooms with ?room=); resumes from Last-Event-ID',
        security: [{ bearer: [] }],
        parameters: [namespace, room, query('room', 'another room (repeatable)'), query('lastEventId', 'resume after <epoch>:<offset>'), query('ticket', 'a one-time ticket (POST /ticket)'), query('name', 'display name (auth off)')],
        responses: { '200': { description: 'the stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...refusals, '429': error },
      },
    },
    '/ticket': {
      post: {
        summary: 'a one-time connection ticket for the Bearer token',
        security: [{ bearer: [] }],
        responses: { '200': json({ type: 'object', properties: { ticket: { type: 'string' }, expiresIn: { type: 'number' } } }, 'the ticket'), ...refusals, '429': error },
      },
      options: { summary: 'CORS preflight', responses: { '204': { description: 'allowed' } } },
    },
    '/rooms/{namespace}/{room}/history': {
      get: {
        summary: 'recent messages (history and store), oldest first: the newest `limit`, or the first `limit` after `since`; an API key or a token with the subscribe right',
        security: apiKey,
        parameters: [namespace, room, query('limit', '1 to 1000, default 100', { type: 'integer' }), query('since', 'only messages after <epoch>:<offset>')],
        responses: { '200': json({ type: 'object', required: ['messages'], properties: { messages: messageList } }, 'the messages'), ...refusals },
      },
    },
    '/rooms/{namespace}/{room}/messages': {
      get: {
        summary: 'stored messages: the newest `limit` with an offset below `before`, oldest first within the page; an API key or a token with the subscribe right',
        security: apiKey,
        parameters: [namespace, room, query('limit', '1 to 100, default 10', { type: 'integer' }), query('before', 'an offset of the current epoch, or <epoch>:<offset>')],
        responses: { '200': json({ type: 'object', required: ['messages', 'hasMore'], properties: { messages: messageList, hasMore: { type: 'boolean' } } }, 'a page'), ...refusals },
      },
    },
    '/rooms/{namespace}/{room}/presence': {
      get: {
        summary: "the room's connections on every node and protocol; an API key or a token with the subscribe right",
        security: apiKey,
        parameters: [namespace, room],
        responses: {
          '200': json(
            {
              type: 'object',
              required: ['members'],
              properties: {
                members: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['id', 'name', 'user', 'protocol', 'node'],
                    properties: { id: { type: 'string' }, name: { type: 'string' }, user: { type: ['string', 'null'] }, protocol: { enum: ['socketio', 'sock', 'sse'] }, node: { type: 'string' } },
                  },
                },
              },
            },
            'the members',
          ),
          ...refusals,
        },
      },
    },
    '/rooms': {
      get: {
        summary: 'rooms with members across the cluster, by namespace then room, a page at a time; the API key only',
        security: keyOnly,
        parameters: [query('namespace', 'only this namespace'), query('prefix', 'only rooms whose name starts so'), query('limit', '1 to 1000, default 100', { type: 'integer' }), query('cursor', 'the `next` of the page before')],
        responses: {
          '200': json(
            {
              type: 'object',
              required: ['rooms', 'next'],
              properties: {
                rooms: { type: 'array', items: { type: 'object', properties: { namespace: { type: 'string' }, room: { type: 'string' }, members: { type: 'integer' } } } },
                next: { type: ['string', 'null'] },
              },
            },
            'a page',
          ),
          ...refusals,
        },
      },
    },
    '/users/{user}/disconnect': {
      post: {
        summary: "close every connection of the user (its token's sub) on every node, after DISCONNECTED_BY_SERVER; with block, refuse its new ones that long; the API key only",
        security: keyOnly,
        parameters: [path('user', "the token's sub")],
        requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { block: { type: ['string', 'integer'], description: 'a duration: 10m, 1h, or ms' } } } } } },
        responses: { '200': json({ type: 'object', required: ['ok', 'disconnected'], properties: { ok: { const: true }, disconnected: { type: 'integer' } } }, 'how many connections were closed'), ...refusals },
      },
    },
    '/admin': adminFile('the admin page (docs: README, Admin page)'),
    '/admin/{file}': adminFile("one of the admin page's files", [path('file', 'admin.js, admin.css, ...')]),
    '/admin/vendor/{file}': adminFile('uPlot, as installed with the service', [path('file', 'uPlot.iife.min.js or uPlot.min.css')]),
    '/admin/api/overview': {
      get: {
        summary: "the admin page's figures: every node (readiness, last seen, connections), connections by kind and client version, errors by code, slow consumers, publish and delivery rates of the last minutes",
        security: adminOnly,
        responses: { '200': json({ type: 'object', required: ['self', 'redis', 'nodes', 'totals', 'rates'] }, 'the figures'), ...adminRefusals },
      },
    },
    '/admin/api/rooms': {
      get: {
        summary: 'rooms with members, a page (as GET /rooms)',
        security: adminOnly,
        parameters: [query('namespace', 'only this namespace'), query('prefix', 'only rooms whose name starts so'), query('limit', '1 to 1000, default 100', { type: 'integer' }), query('cursor', 'the `next` of the page before')],
        responses: { '200': json({ type: 'object', required: ['rooms', 'next'] }, 'a page'), '400': error, ...adminRefusals },
      },
    },
    '/admin/api/rooms/{namespace}/{room}': {
      get: {
        summary: "a room's members (as GET /rooms/{namespace}/{room}/presence) and its 20 most recent messages (as .../history)",
        security: adminOnly,
        parameters: [namespace, room],
        responses: { '200': json({ type: 'object', required: ['members', 'messages'] }, 'the room'), '400': error, ...adminRefusals },
      },
    },
    '/admin/api/users/{user}/disconnect': {
      post: {
        summary: 'as POST /users/{user}/disconnect, from the admin page only: a JSON body and the same origin (Sec-Fetch-Site, Origin), else 403',
        security: adminOnly,
        parameters: [path('user', "the token's sub")],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { block: { type: ['string', 'integer'], description: 'a duration: 10m, 1h, or ms' } } } } } },
        responses: { '200': json({ type: 'object', required: ['ok', 'disconnected'], properties: { ok: { const: true }, disconnected: { type: 'integer' } } }, 'how many connections were closed'), '400': error, '403': error, '413': error, ...adminRefusals },
      },
    },
  },
} as const;
