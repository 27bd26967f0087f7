import * as z from 'zod/mini';
import { PASSWORD_CHANGED, passwordChangedDetail } from './password-changed';

/**
 * The JSON Schema of the whole PasswordChanged event as consumers receive it (the EventBridge
 * envelope with its detail), derived from the zod schema the publisher validates with. The repo
 * keeps it in schemas/password-changed.schema.json; a unit test fails if the two drift apart.
 */
export function passwordChangedEventJsonSchema(): Record<string, unknown> {
  const { $schema: _, ...detail } = z.toJSONSchema(passwordChangedDetail) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:password-reset:schema:PasswordChanged:1',
    title: 'PasswordChanged',
    description:
      'Published to EventBridge once per committed password reset, at least once: consumers dedupe on detail.eventId. It never carries an email address, a token or a hash.',
    type: 'object',
    required: ['id', 'source', 'detail-type', 'time', 'detail'],
    properties: {
      id: { type: 'string', description: "EventBridge's id of this delivery; differs on a redelivery" },
      source: { const: PASSWORD_CHANGED.source },
      'detail-type': { const: PASSWORD_CHANGED.detailType },
      time: { type: 'string', format: 'date-time', description: 'changedAt, to the second' },
      detail,
    },
  };
}
