/* The probe's agent thread: serves the debugger over the control socket. */
#ifndef UVDB_AGENT_H
#define UVDB_AGENT_H

/* Start the agent on `sock`; on success the agent owns it and the caller
 * must close its own copy.  0 or -1. */
int uvdb_agent_start(int sock);

#endif
