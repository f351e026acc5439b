/* telegram.h: the Telegram codec: one Bot API Update (message, channel_post and their edited_
 * forms) to a post; other update types are "other_kind". The caller owns the tree and the post. */
#ifndef BV_CODEC_TELEGRAM_H
#define BV_CODEC_TELEGRAM_H

#include "codec/codec_util.h"

/* One Update to a post. id = "chat.id:message_id"; for private chats (whose id is the user's
 * own) the chat id is replaced by the hex pseudonym of the chat, so no raw user id leaves the
 * codec. url only for public chats with a username. See codec_util.h. */
bv_decode bv_telegram_decode(const bv_codec_ctx *ctx, yajl_val v, unsigned flags, bv_post *out,
                             bv_skip *why);

#endif
