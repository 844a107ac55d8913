// JSON Schema of the events the intake accepts: /mediawiki/job/1.0.0 (schemas/event/primary
// jsonschema/mediawiki/job, with fragment/common's $schema and meta), plus the intake's own limits
// on names that become Kafka topic names.

/** Job types become topic names (<dc>.mediawiki.job.<type>): Kafka's legal characters only. */
export const JOB_TYPE_PATTERN = '^[A-Za-z0-9._-]{1,200}$';

const ISO_8601 =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})$';

export const JOB_EVENT_SCHEMA = {
  $id: '/mediawiki/job/1.0.0',
  type: 'object',
  required: ['$schema', 'meta', 'database', 'type'],
  properties: {
    $schema: { type: 'string', pattern: '^/mediawiki/job/1\\.[0-9]+\\.[0-9]+$' },
    meta: {
      type: 'object',
      required: ['dt', 'stream'],
      properties: {
        uri: { type: 'string', maxLength: 8192 },
        request_id: { type: 'string', maxLength: 256 },
        id: { type: 'string', maxLength: 256 },
        dt: { type: 'string', pattern: ISO_8601 },
        domain: { type: 'string', minLength: 1, maxLength: 512 },
        stream: { type: 'string', minLength: 1, maxLength: 256 },
      },
    },
    database: { type: 'string', minLength: 1, maxLength: 256 },
    type: { type: 'string', pattern: JOB_TYPE_PATTERN },
    delay_until: { type: 'string', pattern: ISO_8601 },
    sha1: { type: 'string', maxLength: 256 },
    root_event: {
      type: 'object',
      required: ['signature', 'dt'],
      properties: {
        signature: { type: 'string', minLength: 1, maxLength: 256 },
        dt: { type: 'string', pattern: ISO_8601 },
      },
    },
    // PHP writes empty params as [].
    params: { anyOf: [{ type: 'object' }, { type: 'array', maxItems: 0 }] },
    page_namespace: { type: 'integer' },
    page_title: { type: 'string' },
    mediawiki_signature: { type: 'string', maxLength: 256 },
  },
} as const;
