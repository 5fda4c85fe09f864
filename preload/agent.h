/* The probe's agent thread: serves the debugger over the control socket. */
#ifndef UVDB_AGENT_H
#define UVDB_AGENT_H

/* Start the agent on `sock`; on success the agent owns it and the caller
 * must close its own copy.  0 or -1. */
int uvdb_agent_start(int sock);
/* Is an agent alive (a debugger attached, or one just leaving)? */
int uvdb_agent_running(void);
/* Wait up to ms for the agent to end: 0 when it has. */
int uvdb_agent_wait_exit(int ms);
/* A forked child: fork copies the thread that called it only, never the agent. */
void uvdb_agent_forked(void);

#endif
