/* curl_client.c -- the LLM benchmark's floor: a bare libcurl multi client
 * sending the same requests as pomlrun, with nothing around them
 *
 *   curl_client [--jobs N] PORT BODIES
 *
 * POSTs every line of BODIES (one JSON request body a line, as written by
 * bench/gen_llm.py) to http://127.0.0.1:PORT/v1/chat/completions, N at a
 * time (default 64), with the headers pomlrun sends ($POML_BENCH_KEY as
 * "Authorization: Bearer"), on one multi handle that reuses connections;
 * replies are read and dropped, not parsed.  A call succeeds on status 200
 * with a body.  Prints "N of M succeeded" and exits 0 when all did. */
#include <curl/curl.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

struct call {
    CURL *e;
    struct curl_slist *headers;
    size_t got;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    ((struct call *)ud)->got += size * n;
    return size * n;
}

int main(int argc, char **argv)
{
    int jobs = 64, a = 1;
    if (argc > 2 && !strcmp(argv[1], "--jobs")) {
        jobs = atoi(argv[2]);
        a = 3;
    }
    if (argc - a != 2 || jobs < 1) {
        fputs("usage: curl_client [--jobs N] PORT BODIES\n", stderr);
        return 2;
    }
    FILE *f = fopen(argv[a + 1], "r");
    if (!f) {
        perror(argv[a + 1]);
        return 1;
    }
    char url[128], auth[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/v1/chat/completions",
             argv[a]);
    const char *key = getenv("POML_BENCH_KEY");
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key ? key : "");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_slist *hs = NULL;
    hs = curl_slist_append(hs, "Content-Type: application/json");
    hs = curl_slist_append(hs, "Expect:");
    hs = curl_slist_append(hs, auth);
    CURLM *m = curl_multi_init();
    char *line = NULL;
    size_t cap = 0;
    long total = 0, ok = 0;
    int running = 0, eof = 0;
    for (;;) {
        while (!eof && running < jobs) {
            ssize_t len = getline(&line, &cap, f);
            if (len <= 0) {
                eof = 1;
                break;
            }
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            if (!len)
                continue;
            struct call *c = calloc(1, sizeof *c);
            c->e = curl_easy_init();
            struct curl_slist *h = NULL;
            for (struct curl_slist *x = hs; x; x = x->next)
                h = curl_slist_append(h, x->data);
            h = curl_slist_append(h, strstr(line, "\"stream\":true")
                                         ? "Accept: text/event-stream"
                                         : "Accept: application/json");
            c->headers = h;
            curl_easy_setopt(c->e, CURLOPT_URL, url);
            curl_easy_setopt(c->e, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(c->e, CURLOPT_COPYPOSTFIELDS, line);
            curl_easy_setopt(c->e, CURLOPT_WRITEFUNCTION, on_body);
            curl_easy_setopt(c->e, CURLOPT_WRITEDATA, c);
            curl_easy_setopt(c->e, CURLOPT_PRIVATE, c);
            curl_easy_setopt(c->e, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(c->e, CURLOPT_ACCEPT_ENCODING, "");
            curl_easy_setopt(c->e, CURLOPT_HTTP_VERSION,
                             (long)CURL_HTTP_VERSION_2TLS);
            curl_multi_add_handle(m, c->e);
            running++;
            total++;
        }
        if (!running && eof)
            break;
        int still;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct call *c;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
                              (char **)&c);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
                              &status);
            if (msg->data.result == CURLE_OK && status == 200 && c->got)
                ok++;
            curl_multi_remove_handle(m, c->e);
            curl_easy_cleanup(c->e);
            curl_slist_free_all(c->headers);
            free(c);
            running--;
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    printf("%ld of %ld succeeded\n", ok, total);
    curl_multi_cleanup(m);
    curl_slist_free_all(hs);
    free(line);
    fclose(f);
    return ok == total ? 0 : 1;
}
