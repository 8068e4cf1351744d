// Resource attributes the http processor sets and other processors read (trace_links: the
// executable name).
// Incubating semantic-convention attributes, copied as the semconv package recommends
// (the incubating entry point is not meant to be imported at runtime).
export const ATTR_PROCESS_PID = 'process.pid';
export const ATTR_PROCESS_EXECUTABLE_NAME = 'process.executable.name';
export const ATTR_PROCESS_COMMAND_LINE = 'process.command_line';
export const ATTR_HOST_NAME = 'host.name';
