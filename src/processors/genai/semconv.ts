// OpenTelemetry GenAI semantic convention names used by the genai processor. The GenAI constants
// in @opentelemetry/semantic-conventions are incubating and marked as moved to the GenAI
// semantic conventions repository (no npm package yet), so the current names are kept here.

export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const ATTR_GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
export const ATTR_GEN_AI_REQUEST_TOP_K = 'gen_ai.request.top_k';
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
export const ATTR_GEN_AI_REQUEST_STOP_SEQUENCES = 'gen_ai.request.stop_sequences';
export const ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY = 'gen_ai.request.frequency_penalty';
export const ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY = 'gen_ai.request.presence_penalty';
export const ATTR_GEN_AI_REQUEST_SEED = 'gen_ai.request.seed';
export const ATTR_GEN_AI_REQUEST_CHOICE_COUNT = 'gen_ai.request.choice.count';
export const ATTR_GEN_AI_REQUEST_ENCODING_FORMATS = 'gen_ai.request.encoding_formats';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
/** Seconds from the request's first byte to the first chunk of a streamed response. */
export const ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = 'gen_ai.response.time_to_first_chunk';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = 'gen_ai.usage.cache_creation.input_tokens';
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
export const ATTR_GEN_AI_OUTPUT_TYPE = 'gen_ai.output.type';
// Content (opt-in): JSON strings.
export const ATTR_GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';
export const ATTR_GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages';
export const ATTR_GEN_AI_SYSTEM_INSTRUCTIONS = 'gen_ai.system_instructions';

// This project's (documented in README.md).
/** Chunks (SSE events without [DONE], NDJSON lines, JSON array elements) of a streamed response. */
export const ATTR_TCPSNIFF_GEN_AI_CHUNK_COUNT = 'tcpsniff.gen_ai.chunk_count';
/** The API shape recognised: openai.chat_completions, anthropic.messages, ollama.chat... */
export const ATTR_TCPSNIFF_GEN_AI_API = 'tcpsniff.gen_ai.api';
/** A body was cut (cap or gap) or could not be decoded: the values above may be partial. */
export const ATTR_TCPSNIFF_GEN_AI_PARTIAL = 'tcpsniff.gen_ai.partial';
/** Content attributes were cut at max_content_bytes. */
export const ATTR_TCPSNIFF_GEN_AI_CONTENT_TRUNCATED = 'tcpsniff.gen_ai.content_truncated';

export const OP_CHAT = 'chat';
export const OP_TEXT_COMPLETION = 'text_completion';
export const OP_EMBEDDINGS = 'embeddings';
export const OP_GENERATE_CONTENT = 'generate_content';

export const PROVIDER_OPENAI = 'openai';
export const PROVIDER_ANTHROPIC = 'anthropic';
export const PROVIDER_GEMINI = 'gcp.gemini';
/** Not in the conventions' list of well-known values. */
export const PROVIDER_OLLAMA = 'ollama';
