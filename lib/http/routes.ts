/**
 * The public routes, one POST each: the CDK stack routes them, local/server.ts serves them and
 * the OpenAPI document describes them.
 */
export const ROUTES = {
  request: '/api/auth/password-reset/request',
  confirm: '/api/auth/password-reset/confirm',
} as const;
