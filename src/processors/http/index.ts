// The http processor: turns captured socket bytes into HTTP spans. See README.md in this folder.
import type { ChunkProcessorComponent, ComponentFactory } from '../../core/component';
import type { SpanConsumer } from '../../core/types';
import { parseHttpConfig, type HttpProcessorConfig } from './config';
import { HttpProcessor } from './core/processor';

export type { HttpProcessorConfig } from './config';
export { HttpProcessor, type HttpProcessorOptions } from './core/processor';

export const httpProcessorFactory: ComponentFactory<HttpProcessorConfig, ChunkProcessorComponent, SpanConsumer> = {
  type: 'http',
  kind: 'processor',
  stage: 'chunks',
  description: 'reassembles captured TCP streams and turns HTTP/1.x, HTTP/2 and gRPC exchanges into spans',
  parseConfig: (raw, path) => parseHttpConfig(raw, path),
  create: (cfg, ctx, next) => new HttpProcessor(cfg, ctx, next),
};
