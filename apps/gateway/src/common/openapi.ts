import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

export const API_KEY_SECURITY = 'api-key';

/** `{"error": {"code", "message"}}`, the body of every 4xx/5xx answer. */
export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', example: 'VALIDATION_FAILED' },
        message: { type: 'string' },
        field: { type: 'string', description: 'the offending field path, for validation errors' },
      },
    },
  },
};

/** OpenAPI document at /docs (UI) and /docs-json. */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('facepipe')
    .setDescription(
      'Face recognition service: submit photos into collections as batch jobs; faces are detected, embedded and matched by workers, and a signed webhook reports each completed job.',
    )
    .setVersion('0.1.0')
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'the admin key (FACEPIPE_API_KEY) or a key issued by POST /v1/keys; required on every route but the probes when the server sets FACEPIPE_API_KEY' },
      API_KEY_SECURITY,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
}
