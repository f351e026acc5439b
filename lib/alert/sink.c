/* sink.c: the config of recipient targets and smtp (the keys are the contract in the README),
 * and making the sink a target asks for. */
#include "alert/sink.h"

#include <stdio.h>
#include <string.h>

static const bv_option sms_table[] = {
    BV_OPTION("gateway", BV_OPT_STRING, bv_sms_conf, gateway, NULL,
              "the URL of the SMS gateway's send request"),
    BV_OPTION("token_env", BV_OPT_STRING, bv_sms_conf, token_env, NULL,
              "the environment variable holding its token (sent as Authorization: Bearer)"),
    BV_OPTION("to", BV_OPT_STRING_LIST, bv_sms_conf, to, NULL,
              "phone numbers, +31612345678; one request each"),
    BV_OPTION("method", BV_OPT_STRING, bv_sms_conf, method, "POST", "POST or GET"),
    BV_OPTION("content_type", BV_OPT_STRING, bv_sms_conf, content_type, "application/json",
              "application/json or application/x-www-form-urlencoded"),
    BV_OPTION("body", BV_OPT_STRING, bv_sms_conf, body, NULL,
              "the request body, with {{to}} and {{text}} (default "
              "{\"to\":\"{{to}}\",\"text\":\"{{text}}\"}; with GET, the query)"),
    BV_OPTION_RANGE("max_chars", BV_OPT_INT, bv_sms_conf, max_chars, "320", 70, 1600,
                    "the text is cut to this many bytes"),
    BV_OPTION_END,
};

static const bv_option telegram_table[] = {
    BV_OPTION("chat_id", BV_OPT_STRING, bv_telegram_conf, chat_id, NULL,
              "the chat, group or channel the bot writes to"),
    BV_OPTION("token_env", BV_OPT_STRING, bv_telegram_conf, token_env, NULL,
              "the environment variable holding the bot's token"),
    BV_OPTION("api", BV_OPT_STRING, bv_telegram_conf, api, "https://api.telegram.org",
              "the Bot API's address"),
    BV_OPTION_END,
};

const bv_option bv_target_table[] = {
    BV_OPTION("webhook", BV_OPT_STRING, bv_target_conf, webhook, NULL,
              "POST each message as JSON to this URL"),
    BV_OPTION("headers_env", BV_OPT_STRING_MAP, bv_target_conf, headers_env, NULL,
              "webhook: header name -> environment variable holding its value"),
    BV_OPTION("format", BV_OPT_STRING, bv_target_conf, format, NULL,
              "webhook: blikveld (default) or alertmanager (the Alertmanager webhook JSON)"),
    BV_OPTION("email", BV_OPT_STRING_LIST, bv_target_conf, email, NULL,
              "e-mail addresses (sent through `smtp`)"),
    BV_OPTION_SECTION("sms", bv_target_conf, sms, sms_table, "SMS through an HTTP gateway"),
    BV_OPTION_SECTION("telegram", bv_target_conf, telegram, telegram_table,
                      "a Telegram chat, through a bot"),
    BV_OPTION("slack", BV_OPT_STRING, bv_target_conf, slack, NULL,
              "a Slack or Mattermost incoming-webhook URL"),
    BV_OPTION("file", BV_OPT_PATH, bv_target_conf, file, NULL,
              "append the alerts to this file as JSON lines"),
    BV_OPTION("min_severity", BV_OPT_STRING, bv_target_conf, min_severity, "info",
              "info, warning or critical: alerts below it do not go to this target"),
    BV_OPTION_END,
};

const bv_option bv_smtp_table[] = {
    BV_OPTION("url", BV_OPT_STRING, bv_smtp_conf, url, NULL,
              "smtp://HOST:PORT (STARTTLS when the server offers it) or smtps://HOST:PORT"),
    BV_OPTION("from", BV_OPT_STRING, bv_smtp_conf, from, NULL, "the sender's address"),
    BV_OPTION("user_env", BV_OPT_STRING, bv_smtp_conf, user_env, NULL,
              "the environment variable holding the user name"),
    BV_OPTION("password_env", BV_OPT_STRING, bv_smtp_conf, password_env, NULL,
              "the environment variable holding the password"),
    BV_OPTION("require_tls", BV_OPT_BOOL, bv_smtp_conf, require_tls, "false",
              "refuse to send when the server offers no STARTTLS"),
    BV_OPTION_END,
};

bv_sink *bv_sink_from_conf(const bv_sink_env *env, const bv_target_conf *t,
                           const bv_smtp_conf *smtp, char *err, size_t errlen)
{
    int kinds = (t->webhook != NULL) + (t->email.n > 0) + (t->sms.gateway != NULL) +
                (t->telegram.chat_id != NULL) + (t->slack != NULL) + (t->file != NULL);
    if (kinds != 1) {
        snprintf(err, errlen,
                 kinds ? "give one of webhook, email, sms, telegram, slack, file per item"
                       : "says nowhere to send: give webhook, email, sms, telegram, slack or "
                         "file");
        return NULL;
    }
    if (!t->webhook && (t->headers_env.n || t->format)) {
        snprintf(err, errlen, "headers_env and format go with webhook");
        return NULL;
    }
    if (t->webhook) {
        return bv_sink_webhook_new(env, t, err, errlen);
    }
    if (t->email.n) {
        if (smtp == NULL || smtp->url == NULL || smtp->from == NULL) {
            snprintf(err, errlen, "email needs the smtp section (url and from)");
            return NULL;
        }
        return bv_sink_email_new(env, &t->email, smtp, err, errlen);
    }
    if (t->sms.gateway) {
        return bv_sink_sms_new(env, &t->sms, err, errlen);
    }
    if (t->telegram.chat_id) {
        return bv_sink_telegram_new(env, &t->telegram, err, errlen);
    }
    if (t->slack) {
        return bv_sink_slack_new(env, t->slack, err, errlen);
    }
    return bv_sink_file_new(env, t->file, err, errlen);
}
