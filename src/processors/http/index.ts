// Placeholder: replaced by the http processor implementation (in progress).
import type { ComponentFactory, ChunkProcessorComponent } from '../../core/component';
export declare const httpProcessorFactory: ComponentFactory<unknown, ChunkProcessorComponent>;
