/* telegram.c: Telegram Update -> post (text or caption, date, author from.id / sender_chat.id /
 * chat.id pseudonymised, t.me link for public chats); see telegram.h. */
#include "codec/telegram.h"

#include <string.h>

/* Telegram usernames: 4..32 of [A-Za-z0-9_]. */
static int username_ok(const char *s, size_t n)
{
    if (s == NULL || n < 4 || n > 32) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return 0;
        }
    }
    return 1;
}

bv_decode bv_telegram_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                             bv_skip *why)
{
    static const char *const kinds[] = {"message", "channel_post", "edited_message",
                                        "edited_channel_post"};
    out->platform = BV_PLATFORM_TELEGRAM;
    yajl_val msg = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && msg == NULL; i++) {
        msg = bv_json_get(v, kinds[i]);
    }
    if (!YAJL_IS_OBJECT(msg)) {
        return bv_codec_skip(out, why,
                             bv_json_get(v, "update_id") != NULL ? BV_SKIP_OTHER_KIND
                                                                 : BV_SKIP_UNKNOWN_SHAPE);
    }
    yajl_val chat = bv_json_get(msg, "chat");
    int64_t chat_id, message_id;
    if (bv_json_int64(bv_json_get(chat, "id"), &chat_id) != 0 ||
        bv_json_int64(bv_json_get(msg, "message_id"), &message_id) != 0 || message_id < 0) {
        return bv_codec_skip(out, why, BV_SKIP_UNKNOWN_SHAPE);
    }
    size_t cl = 0, ml = 0, n = 0;
    const char *cid = bv_json_text(chat, "id", &cl);
    const char *mid = bv_json_text(msg, "message_id", &ml);
    const char *ctype = bv_json_str(chat, "type", &n);
    int is_private = ctype == NULL || bv_json_str_is(ctype, n, "private");
    /* author: the user, else the chat posting on its own behalf, else the chat */
    const char *who = bv_json_text(bv_json_get(msg, "from"), "id", &n);
    if (who == NULL) {
        who = bv_json_text(bv_json_get(msg, "sender_chat"), "id", &n);
    }
    if (who == NULL) {
        who = cid;
        n = cl;
    }
    bv_codec_set_author(ctx, out, who, n);
    int rc;
    if (is_private) {
        /* a private chat's id is the user's id: use its pseudonym instead */
        uint8_t ps[BV_PSEUDO_LEN];
        char hex[2 * BV_PSEUDO_LEN + 1];
        static const char digits[] = "0123456789abcdef";
        memset(ps, 0, sizeof ps);
        if (ctx->pseudo != NULL) {
            bv_pseudo_author(ctx->pseudo, BV_PLATFORM_TELEGRAM, cid, cl, ps);
        }
        for (size_t i = 0; i < BV_PSEUDO_LEN; i++) {
            hex[2 * i] = digits[ps[i] >> 4];
            hex[2 * i + 1] = digits[ps[i] & 15];
        }
        rc = bv_codec_join(&out->id, hex, 2 * (size_t)BV_PSEUDO_LEN, ":", (size_t)1, mid, ml,
                           (const char *)NULL);
    } else {
        rc = bv_codec_join(&out->id, cid, cl, ":", (size_t)1, mid, ml, (const char *)NULL);
    }
    if (rc != 0) {
        return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    const char *uname = bv_json_str(chat, "username", &n);
    if (!is_private && username_ok(uname, n)) {
        static const char web[] = "https://t.me/";
        if (bv_codec_join(&out->url, web, sizeof web - 1, uname, n, "/", (size_t)1, mid, ml,
                          (const char *)NULL) != 0) {
            return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
        }
    }
    int have_time = bv_json_seconds_ms(bv_json_get(msg, "date"), &out->created_ms) == 0;
    if (flags & BV_CODEC_AS_DELETE) {
        return bv_codec_to_delete(out) == 0 ? BV_DECODE_POST
                                            : bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    const char *text = bv_json_str(msg, "text", &n);
    if (text == NULL || !bv_json_has_text(text, n)) {
        text = bv_json_str(msg, "caption", &n);
    }
    if (text == NULL || !bv_json_has_text(text, n)) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TEXT);
    }
    if (!have_time) {
        return bv_codec_skip(out, why, BV_SKIP_NO_TIME);
    }
    if (bv_codec_dup(&out->text, text, n) != 0) {
        return bv_codec_skip(out, why, BV_SKIP_TOO_LONG);
    }
    out->kind = BV_POST_CREATE;
    return BV_DECODE_POST;
}
