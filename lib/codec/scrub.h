/* scrub.h: pseudonymising a platform payload before it is recorded ("Lawful by design",
 * ../shared/DESIGN.md), and writing a yajl tree back as compact JSON.
 *
 * bv_scrub changes, in place, every field of a payload that names a person (the author, people
 * mentioned or replied to, people forwarded from) into a pseudonym, or removes it. A pseudonym
 * is the hex of the keyed hash of the raw value (bv_pseudo_author, the same hash as the post's
 * author, see bv_post_author_hex), so the same raw id always gives the same pseudonym and a
 * replay counts the same distinct authors. The public content stays: text, content, title,
 * message and caption are never changed, and handles written inside the text ("@alice") stay
 * as the author wrote them, as do language tags. Person objects keep only what is listed below
 * (an allowlist): a field the platforms add later is dropped, not kept. Where a person is
 * expected but the value has another type (a string where an account object belongs, an
 * object where an id belongs), it becomes null: removing it could make a later duplicate key
 * the one a codec reads.
 *
 * Per platform (keys are matched wherever they occur, so boosts, quotes, retweets, replies and
 * nested messages are scrubbed the same way; duplicate keys are all scrubbed):
 * - mastodon: `account` keeps id, username, acct (pseudonyms) and the booleans bot, group,
 *   locked, discoverable; display_name, note, url, avatar*, header*, fields, emojis, counts and
 *   the rest go. `mentions[]` keep id, username, acct (pseudonyms). in_reply_to_account_id is a
 *   pseudonym. card.author_name, author_url and authors go. The handles of the account and of
 *   the people mentioned are replaced by their pseudonyms in every URL-like string, as a path
 *   segment ("https://host/@alice/1" -> "https://host/@<hex>/1", ".../users/alice/statuses/1");
 *   in `content` only in link targets: the change is kept only when the text of the HTML stays
 *   the same.
 * - bluesky (Jetstream): every DID in every string (the author's `did`, at:// uris of the post,
 *   of reply parents and roots and of embedded records, mention facets, follow subjects)
 *   becomes "did:pseudo:<hex of the DID>", the same everywhere; record `text` is never changed.
 *   `handle` (identity events) goes, and profile records lose displayName, description, avatar,
 *   banner, pronouns and website.
 * - x: user objects (`user`, includes.users[]) keep id, id_str, username, screen_name
 *   (pseudonyms; a numeric v1.1 `id` goes) and verified, protected. author_id,
 *   in_reply_to_user_id(_str), in_reply_to_screen_name and user_id(_str) are pseudonyms (the
 *   numeric v1.1 copies go); mentions and user_mentions keep username, screen_name, id(_str)
 *   as pseudonyms and their offsets; contributors and Gnip's link previews (`unwound`: the
 *   title of a linked post names its author) go. Handles are replaced as path segments in
 *   URL-like strings (expanded_url, quoted_status_permalink, display_url, also where that is
 *   cut short with a "..."). A v1.1 retweet's own "RT @name:" prefix gets the pseudonym: the
 *   codec reads the retweeted status's text, not that one.
 * - facebook (a feed change): `from` of anyone but the Page itself keeps only `id` (pseudonym);
 *   the Page (from.id equal to the page id that starts post_id, "PAGE_POST") is public and
 *   stays. Likewise legacy sender_id / sender_name. message_tags of anything but a page keep
 *   offsets and type, the id as a pseudonym; `to` goes. Post, comment and parent ids stay.
 * - telegram (an Update): users (`from`, forward_from, sender_user, `user` of text_mention
 *   entities and reactions, new_chat_member(s), left_chat_member, users_shared `users`) keep
 *   id and is_bot; private chats keep id and type; a sender_chat other than the chat itself
 *   keeps id and type. author_signature, forward_signature, forward_sender_name,
 *   sender_user_name and user_ids go; a shared contact keeps only user_id. The codec needs a
 *   chat id that is an integer, so Telegram ids become numeric pseudonyms: 5e15 + (keyed hash
 *   mod 4e15), above every real user id (< 2^52) and below 2^53. Groups, supergroups and
 *   channels are public and stay.
 * - reddit (a listing child): author and link_author are pseudonyms ("[deleted]" stays); every
 *   author_* field (author_fullname, author_flair_*, ...), approved_by, banned_by, removed_by,
 *   mod_reason_by, mod_reports, user_reports, from, from_id, from_kind go. A post in a user's
 *   profile subreddit (subreddit "u_alice") gets the pseudonym there too: subreddit,
 *   subreddit_id, subreddit_name_prefixed, domain, permalink and url.
 *
 * What a scrubbed payload decodes to (bv_codec_decode_parsed), compared with the original: the
 * same kind, text, created_ms, lang and received_ms; has_author the same, the author being the
 * hash of the pseudonym (stable: the same raw author always gives the same one). The same id and
 * url, except:
 * - bluesky: id and url hold "did:pseudo:<hex>" in place of the DID (bv_scrub_post_id maps an
 *   original id to the scrubbed one, for deletes);
 * - mastodon: url holds the pseudonym in place of the handle (a link that no longer resolves);
 * - telegram: the id of a post in a private chat (already "<hex of chat id>:<message id>") is
 *   derived from the numeric pseudonym instead;
 * - reddit: the url of a post in a user's profile subreddit holds the pseudonym.
 *
 * Ownership: the tree is the caller's and is changed in place (nodes are freed and allocated as
 * yajl_tree does, so yajl_tree_free still frees it all); ps is borrowed. */
#ifndef BV_CODEC_SCRUB_H
#define BV_CODEC_SCRUB_H

#include "core/buf.h"
#include "engine/post.h"
#include "engine/pseudo.h"

#include <stddef.h>
#include <yajl/yajl_tree.h>

/* Deepest nesting bv_scrub walks (yajl_gen writes no deeper either). */
#define BV_SCRUB_MAX_DEPTH 128

/* Scrubs tree (a platform payload as bv_codec_decode_platform takes it) in place for platform p.
 * 0, BV_EINVAL (tree is not an object, p unknown or ps NULL: nothing changed), BV_ELIMIT (nested
 * deeper than BV_SCRUB_MAX_DEPTH, or naming more than 1024 different handles) or BV_ENOMEM.
 * After an error the tree may be half scrubbed: it must not be recorded. Never crashes on any
 * tree yajl_tree_parse can give; time and memory are linear in the tree's size. */
int bv_scrub(const bv_pseudo *ps, bv_platform p, yajl_val tree);

/* The id that a scrubbed payload decodes to, given the id decoded from the original: for
 * bluesky every DID in it becomes "did:pseudo:<hex>" as bv_scrub does; other platforms' ids
 * are copied unchanged. *out (caller frees) is NUL-terminated. 0 or BV_ENOMEM. */
int bv_scrub_post_id(const bv_pseudo *ps, bv_platform p, const char *id, size_t len, char **out);

/* Appends v as compact JSON to out: numbers as the text they were parsed from (u.number.r; big
 * ids keep every digit), strings escaped (", \, control characters) with UTF-8 kept as is. On
 * error nothing is appended: BV_EINVAL (a string that is not UTF-8, a number that is not
 * finite), BV_ELIMIT (nested deeper than 128) or BV_ENOMEM. v is borrowed. */
int bv_json_write(yajl_val v, bv_buf *out);

#endif
