/* curl_loop.h: libcurl's multi interface driven by the libevent loop, through its socket and
 * timer callbacks (curl_multi_socket_action): transfers never block the loop, however many run.
 * The caller configures each easy handle (URL, headers, write callback, ...) and adds it; when
 * the transfer ends, its done callback runs once, from the loop, after the handle has left the
 * multi handle (so it may be reset and added again, e.g. to reconnect).
 *
 * Ownership: the loop owns the multi handle and its events; easy handles stay the caller's
 * (remove them before freeing them). bv_curl_loop_free removes what is still running without
 * calling done. */
#ifndef BV_NET_CURL_LOOP_H
#define BV_NET_CURL_LOOP_H

#include <curl/curl.h>

struct event_base;

typedef struct bv_curl_loop bv_curl_loop;

typedef void bv_curl_done_cb(void *arg, CURL *easy, CURLcode rc);

/* NULL when libcurl or memory fails. The program calls curl_global_init once before. */
bv_curl_loop *bv_curl_loop_new(struct event_base *base);
void bv_curl_loop_free(bv_curl_loop *l);

/* Starts a transfer. BV_OK, BV_EINVAL (already added), BV_ENOMEM, BV_ERR (curl refused). */
int bv_curl_loop_add(bv_curl_loop *l, CURL *easy, bv_curl_done_cb *done, void *arg);
/* Stops a transfer before it ends; its done callback is not called. Safe from any callback of
 * the transfer's own (the handle leaves on the next loop turn's way out of libcurl). */
void bv_curl_loop_remove(bv_curl_loop *l, CURL *easy);
/* Transfers running. */
int bv_curl_loop_running(const bv_curl_loop *l);

#endif
