// The benchmark's reference for the pump: the same requests sent by libcurl alone, from one
// thread of a C program with no Node in it, the way libcurl's own examples drive a multi handle
// (curl_multi_perform + curl_multi_poll). Its CPU per request is what libcurl and the kernel cost
// for the job, without the pump's bridge to JavaScript.
//   libcurl-alone URL MODE IN_FLIGHT RATE WARMUP_MS DURATION_MS BODY_FILE [CA_FILE] [http2]
//                 [USER_AGENT]
//   MODE closed: IN_FLIGHT transfers back to back; rate: every 5 ms, start what RATE says is due
//   (as bench/client.js does), at most IN_FLIGHT at once. With USER_AGENT (the package's default
//   agent, which bench/run.js passes), the requests carry it as the pump's do: the same bytes. One JSON
//   line on stdout, the fields bench/client.js prints.
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double Clock(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t Discard(char* data, size_t size, size_t n, void* user) {
  (void)data;
  (void)user;
  return size * n;
}

static char* ReadFile(const char* name, long* size) {
  FILE* f = fopen(name, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  rewind(f);
  char* text = malloc((size_t)*size);
  if (text == NULL || fread(text, 1, (size_t)*size, f) != (size_t)*size) {
    fclose(f);
    free(text);
    return NULL;
  }
  fclose(f);
  return text;
}

struct Tally {
  long settled, completed, errors;
  int first_error;
};

struct Load {
  CURLM* multi;
  CURL** idle;
  int idle_count;
  int running;
  int closed;
  double rate;
  long sent;
};

static void Start(struct Load* load) {
  curl_multi_add_handle(load->multi, load->idle[--load->idle_count]);
  load->running++;
  load->sent++;
}

// Sends for `ms`, then waits until every transfer has settled; `tally` counts every transfer that
// settles, and as completed the successes that settle while sending. Returns the sending window, s.
static double Phase(struct Load* load, double ms, struct Tally* tally) {
  const double start = Clock(CLOCK_MONOTONIC);
  load->sent = 0;
  double end = start + ms / 1000;
  double next_tick = start;
  double window = 0;
  int sending = 1;
  while (sending || load->running > 0) {
    double now = Clock(CLOCK_MONOTONIC);
    if (sending && now >= end) {
      sending = 0;
      window = now - start;
    }
    if (sending && load->closed) {
      while (load->idle_count > 0) Start(load);
    } else if (sending && now >= next_tick) {
      long due = (long)((now - start) * load->rate);
      while (load->sent < due && load->idle_count > 0) Start(load);
      next_tick += 0.005;
    }
    int still;
    curl_multi_perform(load->multi, &still);
    CURLMsg* msg;
    int left;
    while ((msg = curl_multi_info_read(load->multi, &left)) != NULL) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      tally->settled++;
      if (msg->data.result == CURLE_OK && status >= 200 && status < 300) {
        if (sending) tally->completed++;
      } else {
        tally->errors++;
        if (!tally->first_error)
          tally->first_error = msg->data.result ? (int)msg->data.result : (int)status;
      }
      curl_multi_remove_handle(load->multi, easy);
      load->idle[load->idle_count++] = easy;
      load->running--;
      if (sending && load->closed) Start(load);  // a lane sends again as soon as it hears back
    }
    int wait_ms = 100;
    if (sending && !load->closed) {
      double until = next_tick - Clock(CLOCK_MONOTONIC);
      wait_ms = until <= 0 ? 0 : (int)(until * 1000) + 1;
    }
    curl_multi_poll(load->multi, NULL, 0, wait_ms, NULL);
  }
  return window;
}

int main(int argc, char** argv) {
  if (argc < 8) {
    fprintf(stderr,
            "usage: %s URL MODE IN_FLIGHT RATE WARMUP_MS DURATION_MS BODY_FILE [CA_FILE] [http2]\n",
            argv[0]);
    return 2;
  }
  const char* url = argv[1];
  int in_flight = atoi(argv[3]);
  long body_size = 0;
  char* body = ReadFile(argv[7], &body_size);
  const char* ca_file = argc > 8 && argv[8][0] ? argv[8] : NULL;
  int http2 = argc > 9 && strcmp(argv[9], "http2") == 0;
  if (body == NULL || in_flight < 1) {
    printf("{\"failed\":\"cannot read %s\"}\n", argv[7]);
    return 1;
  }
  curl_global_init(CURL_GLOBAL_ALL);
  struct curl_slist* headers = curl_slist_append(NULL, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  if (argc > 10 && argv[10][0]) {
    // The pump's agent line: libcurl formats every header byte, so it is part of the request's cost.
    char agent[512];
    snprintf(agent, sizeof agent, "User-Agent: %s", argv[10]);
    headers = curl_slist_append(headers, agent);
  }
  struct Load load = {0};
  load.multi = curl_multi_init();
  curl_multi_setopt(load.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)in_flight);
  load.idle = calloc((size_t)in_flight, sizeof *load.idle);
  load.closed = strcmp(argv[2], "closed") == 0;
  load.rate = atof(argv[4]);
  for (int i = 0; i < in_flight; i++) {
    CURL* easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_size);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (ca_file != NULL) curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                     http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    if (http2) curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    load.idle[load.idle_count++] = easy;
  }
  struct Tally warm = {0};
  Phase(&load, atof(argv[5]), &warm);
  struct Tally tally = {0};
  double cpu0 = Clock(CLOCK_PROCESS_CPUTIME_ID);
  double seconds = Phase(&load, atof(argv[6]), &tally);
  double cpu_us = (Clock(CLOCK_PROCESS_CPUTIME_ID) - cpu0) * 1e6;
  double per = tally.settled > 0 ? cpu_us / (double)tally.settled : 0;
  int first = warm.first_error ? warm.first_error : tally.first_error;
  char first_error[32] = "null";
  if (first) snprintf(first_error, sizeof first_error, "\"code %d\"", first);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  // Its one thread does the pump's job: its CPU goes in the pump's column, and is the process's.
  printf(
      "{\"throughput\":%.1f,\"completed\":%ld,\"requests\":%ld,\"errors\":%ld,\"firstError\":%s,"
      "\"mainCpuUsPerReq\":null,\"mainBeyondFloorPairedUs\":null,\"pumpCpuUsPerReq\":%.2f,"
      "\"otherCpuUsPerReq\":0,\"processCpuUsPerReq\":%.2f,\"peakRssMiB\":%.1f,\"libcurl\":\"%s\"}"
      "\n",
      (double)tally.completed / seconds, tally.completed, tally.settled, warm.errors + tally.errors,
      first_error, per, per, (double)usage.ru_maxrss / 1024, curl_version());
  return 0;
}
