/* C smoke test of the codeloop C ABI against the mock model server: a turn
 * with a host tool answered through codeloop_host_reply, a turn with an
 * output schema (codeloop_thread_run_with), steering with no turn running,
 * and a compaction.
 * Usage: smoke BASE_URL WORKDIR (the driver, run.sh, scripts the mock). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeloop.h"

struct run_state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done;
  int calls;
  CodeloopCode code;
  char *data;
  int events;
  int saw_turn_completed;
};

static void on_event(void *user_data, const uint8_t *event, size_t len) {
  struct run_state *s = user_data;
  pthread_mutex_lock(&s->lock);
  s->events++;
  if (len > 0 && strstr((const char *)event, "\"turn.completed\"") != NULL) s->saw_turn_completed = 1;
  pthread_mutex_unlock(&s->lock);
}

static void on_done(void *user_data, CodeloopCode code, const uint8_t *data, size_t len) {
  struct run_state *s = user_data;
  pthread_mutex_lock(&s->lock);
  s->calls++;
  s->code = code;
  s->data = malloc(len + 1);
  memcpy(s->data, data, len);
  s->data[len] = 0;
  s->done = 1;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

static const CodeloopAgent *g_agent;
static int g_tool_calls;

/* Answer from inside the callback: the simplest host. */
static void on_host(void *user_data, uint64_t id, CodeloopHostKind kind, const uint8_t *req, size_t len) {
  (void)user_data;
  if (kind != CODELOOP_HOST_KIND_TOOL || strstr((const char *)req, "\"ticket\"") == NULL || len == 0) {
    const char *msg = "unexpected request";
    CodeloopStatus st = codeloop_host_fail(g_agent, id, (const uint8_t *)msg, strlen(msg));
    codeloop_bytes_free(st.message);
    return;
  }
  __atomic_add_fetch(&g_tool_calls, 1, __ATOMIC_SEQ_CST);
  const char *answer = "{\"type\":\"output\",\"output\":\"ticket 7 is open\"}";
  CodeloopStatus st = codeloop_host_reply(g_agent, id, (const uint8_t *)answer, strlen(answer));
  if (st.code != CODELOOP_CODE_OK) fprintf(stderr, "reply failed: %d\n", st.code);
  codeloop_bytes_free(st.message);
}

static void reset_state(struct run_state *s) {
  free(s->data);
  s->data = NULL;
  s->done = 0;
  s->calls = 0;
  s->events = 0;
  s->saw_turn_completed = 0;
}

static void wait_done(struct run_state *s) {
  pthread_mutex_lock(&s->lock);
  while (!s->done) pthread_cond_wait(&s->cond, &s->lock);
  pthread_mutex_unlock(&s->lock);
}

static int fail_status(const char *what, CodeloopStatus st) {
  fprintf(stderr, "%s failed: code %d: %.*s\n", what, st.code, (int)st.message.len, (const char *)st.message.ptr);
  codeloop_bytes_free(st.message);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: smoke BASE_URL WORKDIR\n");
    return 2;
  }
  char options[2048];
  snprintf(options, sizeof options,
           "{\"model\":\"mock-model\",\"base_url\":\"%s\",\"api_key\":\"test-key\",\"cwd\":\"%s\","
           "\"ephemeral\":true,\"request_max_retries\":0,\"stream_max_retries\":0,"
           "\"host_tools\":[{\"name\":\"ticket\",\"description\":\"look up a ticket\","
           "\"parameters\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}}}}]}",
           argv[1], argv[2]);

  /* Errors are values: bad options give a code and a message, no handle. */
  CodeloopAgent *bad = NULL;
  const char *bad_options = "{\"sandbox\":\"nope\"}";
  CodeloopStatus st = codeloop_agent_new((const uint8_t *)bad_options, strlen(bad_options), NULL, NULL, 0, &bad);
  if (st.code != CODELOOP_CODE_CONFIG || bad != NULL || st.message.len == 0) {
    fprintf(stderr, "bad options: expected a config error, got %d\n", st.code);
    return 1;
  }
  codeloop_bytes_free(st.message);

  CodeloopAgent *agent = NULL;
  st = codeloop_agent_new((const uint8_t *)options, strlen(options), on_host, NULL, CODELOOP_HOST_TOOLS, &agent);
  if (st.code != CODELOOP_CODE_OK) return fail_status("codeloop_agent_new", st);
  g_agent = agent;

  CodeloopThread *thread = NULL;
  st = codeloop_agent_start_thread(agent, &thread);
  if (st.code != CODELOOP_CODE_OK) return fail_status("codeloop_agent_start_thread", st);

  struct run_state s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, CODELOOP_CODE_OK, NULL, 0, 0};
  const char *input = "\"what about ticket 7?\"";
  CodeloopRun *run = NULL;
  st = codeloop_thread_run(thread, (const uint8_t *)input, strlen(input), on_event, on_done, &s, &run);
  if (st.code != CODELOOP_CODE_OK) return fail_status("codeloop_thread_run", st);

  wait_done(&s);

  int rc = 0;
  if (s.code != CODELOOP_CODE_OK) {
    fprintf(stderr, "run failed: code %d: %s\n", s.code, s.data);
    rc = 1;
  } else if (strstr(s.data, "\"final_response\":\"ticket 7 is open, done\"") == NULL) {
    fprintf(stderr, "unexpected result: %s\n", s.data);
    rc = 1;
  } else if (!s.saw_turn_completed || s.events < 4) {
    fprintf(stderr, "events: %d, turn.completed seen: %d\n", s.events, s.saw_turn_completed);
    rc = 1;
  } else if (__atomic_load_n(&g_tool_calls, __ATOMIC_SEQ_CST) != 1) {
    fprintf(stderr, "tool calls: %d\n", g_tool_calls);
    rc = 1;
  } else if (s.calls != 1) {
    fprintf(stderr, "on_done called %d times\n", s.calls);
    rc = 1;
  }
  codeloop_run_free(run);
  int first_events = s.events;

  /* Per-run options: an output schema, and the parsed answer in "output". */
  if (rc == 0) {
    reset_state(&s);
    const char *run_options =
        "{\"output_schema\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},"
        "\"required\":[\"ok\"],\"additionalProperties\":false},\"max_turns\":2}";
    const char *input2 = "\"is it ok?\"";
    st = codeloop_thread_run_with(thread, (const uint8_t *)input2, strlen(input2), (const uint8_t *)run_options,
                                  strlen(run_options), NULL, on_done, &s, NULL);
    if (st.code != CODELOOP_CODE_OK) return fail_status("codeloop_thread_run_with", st);
    wait_done(&s);
    if (s.code != CODELOOP_CODE_OK || strstr(s.data, "\"output\":{\"ok\":true}") == NULL) {
      fprintf(stderr, "run with an output schema: code %d: %s\n", s.code, s.data);
      rc = 1;
    }
  }

  /* Steering needs a running turn. */
  if (rc == 0) {
    const char *steer = "\"and also this\"";
    st = codeloop_thread_steer(thread, (const uint8_t *)steer, strlen(steer));
    if (st.code != CODELOOP_CODE_NO_ACTIVE_TURN) {
      fprintf(stderr, "steer with no turn: code %d\n", st.code);
      rc = 1;
    }
    codeloop_bytes_free(st.message);
  }

  /* A manual compaction reports through the completion callback. */
  if (rc == 0) {
    reset_state(&s);
    st = codeloop_thread_compact(thread, on_done, &s);
    if (st.code != CODELOOP_CODE_OK) return fail_status("codeloop_thread_compact", st);
    wait_done(&s);
    if (s.code != CODELOOP_CODE_OK || strstr(s.data, "\"trigger\":\"manual\"") == NULL || s.calls != 1) {
      fprintf(stderr, "compact: code %d: %s\n", s.code, s.data);
      rc = 1;
    }
  }

  /* Closing shuts the MCP servers down (none here); it is idempotent. */
  for (int i = 0; rc == 0 && i < 2; i++) {
    st = codeloop_agent_close(agent);
    if (st.code != CODELOOP_CODE_OK) return fail_status("codeloop_agent_close", st);
  }

  free(s.data);
  codeloop_thread_free(thread);
  codeloop_agent_free(agent);
  if (rc == 0) printf("ok: C smoke test (%d events in the first turn)\n", first_events);
  return rc;
}
