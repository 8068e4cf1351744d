// Placeholder: replaced by the tcp receiver implementation (in progress).
import type { ComponentFactory, ReceiverComponent } from '../../core/component';
export declare const tcpReceiverFactory: ComponentFactory<unknown, ReceiverComponent>;
