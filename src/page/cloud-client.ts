/**
 * The cloud client, split by concern under ./cloud/ (config, errors, cost, transport) and the
 * SSE parser in src/common/sse.ts; this module keeps the old import path working.
 */
export * from './cloud/config';
export * from './cloud/errors';
export * from './cloud/cost';
export * from './cloud/transport';
export { SseParser } from '../common/sse';
