/*
 * The route table of vitrine-server: every endpoint, who may call it, how
 * big its body may be and which transaction wraps it. docs/api.yaml
 * describes the same routes for people (a test keeps the two in step).
 */
#include "routes.h"

#include "audit/audit.h"
#include "auth/auth.h"
#include "chat/chat.h"
#include "console_config.h"
#include "content/content.h"
#include "http/assets.h"
#include "live/live.h"
#include "mdm/mdm.h"
#include "ops/ops.h"
#include "remote/remote.h"
#include "screens/screens.h"
#include "updates/updates.h"

#define KB      1024
#define R       ROUTE_TX_READ
#define W       ROUTE_TX_WRITE
#define ADMIN   ROLE_ADMIN
#define SUPPORT (ROLE_ADMIN | ROLE_SUPPORT)
#define EDITORS (ROLE_ADMIN | ROLE_EDITOR)
#define CHATOPS (ROLE_ADMIN | ROLE_OPERATOR)

const struct route server_routes[] = {
    /* operations */
    {"GET", "/healthz", ops_handle_healthz, AUTH_NONE, 0, 0, 0},
    {"GET", "/metrics", ops_handle_metrics, AUTH_NONE, 0, 0, 0},

    /* console (static, embedded) */
    {"GET", "/", assets_handle_index, AUTH_NONE, 0, 0, 0},
    {"GET", "/assets/{name}", assets_handle_file, AUTH_NONE, 0, 0, 0},
    {"GET", "/assets/{folder}/{name}", assets_handle_file, AUTH_NONE, 0, 0, 0},
    /* the vendored libraries (scripts/vendor-js), in their own folder trees */
    {"GET", "/assets/vendor/{pkg}/{name}", assets_handle_path, AUTH_NONE, 0, 0, 0},
    {"GET", "/assets/vendor/{pkg}/{folder}/{name}", assets_handle_path, AUTH_NONE, 0, 0, 0},
    {"GET", "/assets/vendor/{pkg}/{folder}/{sub}/{name}", assets_handle_path, AUTH_NONE, 0, 0, 0},
    {"GET", "/assets/vendor/novnc/vendor/pako/{folder}/{sub}/{name}", assets_handle_path, AUTH_NONE, 0, 0, 0},
    {"GET", "/firewall", assets_handle_index, AUTH_NONE, 0, 0, 0}, /* the console shows the page */
    {"GET", "/api/v1/firewall", ops_handle_firewall, AUTH_USER, ADMIN, 0, R},

    /* sessions and the caller's own profile */
    {"POST", "/api/v1/session", auth_handle_login, AUTH_NONE, 0, 4 * KB, 0},
    {"GET", "/api/v1/session", auth_handle_session_get, AUTH_USER, 0, 0, R | ROUTE_PW_CHANGE},
    {"DELETE", "/api/v1/session", auth_handle_logout, AUTH_USER, 0, 0, W | ROUTE_PW_CHANGE | ROUTE_ANY_ORIGIN},
    {"GET", "/api/v1/me", auth_handle_me, AUTH_USER, 0, 0, R | ROUTE_PW_CHANGE},
    {"PUT", "/api/v1/me/password", auth_handle_change_password, AUTH_USER, 0, 4 * KB, ROUTE_PW_CHANGE},
    {"DELETE", "/api/v1/me/sessions", auth_handle_logout_everywhere, AUTH_USER, 0, 0,
     W | ROUTE_PW_CHANGE | ROUTE_ANY_ORIGIN},
    {"POST", "/api/v1/me/totp", auth_handle_totp_begin, AUTH_USER, 0, 1 * KB, W},
    {"POST", "/api/v1/me/totp/confirm", auth_handle_totp_confirm, AUTH_USER, 0, 1 * KB, W},
    {"DELETE", "/api/v1/me/totp", auth_handle_totp_disable, AUTH_USER, 0, 1 * KB, W},

    /* users of the account */
    {"GET", "/api/v1/users", auth_handle_users_list, AUTH_USER, ADMIN, 0, R},
    {"POST", "/api/v1/users", auth_handle_user_create, AUTH_USER, ADMIN, 4 * KB, 0},
    {"GET", "/api/v1/users/{id}", auth_handle_user_get, AUTH_USER, ADMIN, 0, R},
    {"PATCH", "/api/v1/users/{id}", auth_handle_user_update, AUTH_USER, ADMIN, 4 * KB, W},
    {"DELETE", "/api/v1/users/{id}", auth_handle_user_delete, AUTH_USER, ADMIN, 0, W},
    {"POST", "/api/v1/users/{id}/password-reset", auth_handle_user_reset_password, AUTH_USER, ADMIN, 4 * KB, 0},
    {"DELETE", "/api/v1/users/{id}/totp", auth_handle_user_reset_totp, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/users/{id}/remote-grants", remote_handle_grants_get, AUTH_USER, ADMIN, 0, R},
    {"PUT", "/api/v1/users/{id}/remote-grants", remote_handle_grants_put, AUTH_USER, ADMIN, 64 * KB, W},

    /* API tokens of the caller */
    {"GET", "/api/v1/tokens", auth_handle_tokens_list, AUTH_USER, 0, 0, R},
    {"POST", "/api/v1/tokens", auth_handle_token_create, AUTH_USER, 0, 1 * KB, W},
    {"DELETE", "/api/v1/tokens/{id}", auth_handle_token_delete, AUTH_USER, 0, 0, W},

    /* the account */
    {"GET", "/api/v1/account", auth_handle_account_get, AUTH_USER, 0, 0, R},
    {"GET", "/api/v1/account/allowlist", auth_handle_allowlist_get, AUTH_USER, ADMIN, 0, R},
    {"PUT", "/api/v1/account/allowlist", auth_handle_allowlist_put, AUTH_USER, ADMIN, 16 * KB, W},

    /* audit log */
    {"GET", "/api/v1/audit", audit_handle_list, AUTH_USER, ADMIN, 0, R},
    {"GET", "/api/v1/audit.csv", audit_handle_csv, AUTH_USER, ADMIN, 0, W},

    /* what the console needs of the server's settings (the map's tile server) */
    {"GET", "/api/v1/console-config", console_config_handle_get, AUTH_USER, 0, 0, 0},

    /* the console's live stream (screens for everyone, audit for admins) */
    {"GET", "/api/v1/events", live_handle_events, AUTH_USER, 0, 0, R},

    /* pairing (RFC 8628 model) */
    {"POST", "/api/v1/device/pair", screens_handle_device_pair, AUTH_NONE, 0, 4 * KB, W},
    {"POST", "/api/v1/device/token", screens_handle_device_token, AUTH_NONE, 0, 1 * KB, 0},
    {"GET", "/api/v1/pairings/{code}", screens_handle_pairing_preview, AUTH_USER, ADMIN, 0, 0},
    {"POST", "/api/v1/pairings", screens_handle_pairing_confirm, AUTH_USER, ADMIN, 1 * KB, 0},

    /* the device API (device access token) */
    /* the long-poll writes nothing (last_seen in memory: screens/presence.h);
     * the heartbeat commits itself, so a full disk is answered 507 */
    {"GET", "/api/v1/device/instructions", screens_handle_device_poll, AUTH_DEVICE, 0, 0, R},
    {"POST", "/api/v1/device/instructions/{id}/ack", screens_handle_device_ack, AUTH_DEVICE, 0, 32 * KB, W},
    {"POST", "/api/v1/device/heartbeat", screens_handle_device_heartbeat, AUTH_DEVICE, 0, 32 * KB, 0},
    {"POST", "/api/v1/device/screenshot", screens_handle_device_screenshot, AUTH_DEVICE, 0, 8192 * KB, W},
    {"POST", "/api/v1/device/share-code", screens_handle_device_share_code, AUTH_DEVICE, 0, 1 * KB, W},
    {"GET", "/api/v1/share-codes/{code}", screens_handle_share_code_lookup, AUTH_NONE, 0, 0, 0},
    /* device management: inventory, collected logs, and what a player with
     * damaged local state gets back (mdm/recover.c) */
    {"POST", "/api/v1/device/inventory", mdm_handle_device_inventory, AUTH_DEVICE, 0, 32 * KB, W},
    {"POST", "/api/v1/device/logs", mdm_handle_device_logs, AUTH_DEVICE, 0, 16384 * KB, W},
    {"GET", "/api/v1/device/config", mdm_handle_device_config, AUTH_DEVICE, 0, 0, R},
    {"PUT", "/api/v1/device/key", mdm_handle_device_key, AUTH_DEVICE, 0, 1 * KB, W},
    {"POST", "/api/v1/device/challenge", mdm_handle_device_challenge, AUTH_NONE, 0, 0, W},
    /* no request transaction: a used challenge stays used when the proof fails */
    {"POST", "/api/v1/device/recover", mdm_handle_device_recover, AUTH_NONE, 0, 1 * KB, 0},
    /* the person at the screen allows or refuses a remote session; the
     * second path is the one the remote-control contract names */
    {"POST", "/api/v1/device/remote-sessions/{id}/consent", remote_handle_consent, AUTH_DEVICE, 0, 1 * KB, W},

    /* screens */
    {"GET", "/api/v1/screens", screens_handle_list, AUTH_USER, 0, 0, R},
    {"GET", "/api/v1/screens/{id}", screens_handle_get, AUTH_USER, 0, 0, R},
    {"PATCH", "/api/v1/screens/{id}", screens_handle_update, AUTH_USER, ADMIN, 4 * KB, W},
    {"DELETE", "/api/v1/screens/{id}", screens_handle_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/screens/{id}/screenshot", screens_handle_screenshot_get, AUTH_USER, 0, 0, R},
    {"POST", "/api/v1/screens/{id}/instructions", screens_handle_instruction_create, AUTH_USER, SUPPORT, 16 * KB, W},
    {"GET", "/api/v1/screens/{id}/instructions/{iid}", screens_handle_instruction_get, AUTH_USER, 0, 0, R},
    {"PUT", "/api/v1/screens/{id}/channel", content_handle_screen_channel, AUTH_USER, ADMIN, 1 * KB, W},
    {"POST", "/api/v1/screens/{id}/play-now", content_handle_play_now, AUTH_USER, ADMIN, 1 * KB, W},
    {"DELETE", "/api/v1/screens/{id}/play-now", content_handle_play_now, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/screens/{id}/logs", mdm_handle_screen_logs, AUTH_USER, SUPPORT, 0, R},
    {"GET", "/api/v1/screens/{id}/logs/{log}", mdm_handle_screen_log_get, AUTH_USER, SUPPORT, 0, R},

    /* device management: dynamic groups, actions on many screens */
    {"GET", "/api/v1/screen-groups", mdm_handle_groups_list, AUTH_USER, 0, 0, R},
    {"POST", "/api/v1/screen-groups", mdm_handle_group_create, AUTH_USER, ADMIN, 4 * KB, W},
    {"PATCH", "/api/v1/screen-groups/{id}", mdm_handle_group_update, AUTH_USER, ADMIN, 4 * KB, W},
    {"DELETE", "/api/v1/screen-groups/{id}", mdm_handle_group_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/screen-groups/{id}/screens", mdm_handle_group_screens, AUTH_USER, 0, 0, R},
    {"GET", "/api/v1/screen-actions", mdm_handle_actions_list, AUTH_USER, 0, 0, R},
    {"POST", "/api/v1/screen-actions", mdm_handle_action_create, AUTH_USER, ADMIN, 16 * KB, W},
    {"GET", "/api/v1/screen-actions/{id}", mdm_handle_action_get, AUTH_USER, 0, 0, R},

    /* sync groups: screens of one LAN that play in step (screens/sync_groups.c) */
    {"GET", "/api/v1/sync-groups", sync_groups_handle_list, AUTH_USER, 0, 0, R},
    {"POST", "/api/v1/sync-groups", sync_groups_handle_create, AUTH_USER, ADMIN, 4 * KB, W},
    {"GET", "/api/v1/sync-groups/{id}", sync_groups_handle_get, AUTH_USER, 0, 0, R},
    {"PATCH", "/api/v1/sync-groups/{id}", sync_groups_handle_update, AUTH_USER, ADMIN, 4 * KB, W},
    {"DELETE", "/api/v1/sync-groups/{id}", sync_groups_handle_delete, AUTH_USER, ADMIN, 0, W},

    /* remote control (connection manager): relays, sessions */
    {"POST", "/api/v1/screens/{id}/remote", remote_handle_session_create, AUTH_USER, SUPPORT, 0, W},
    {"GET", "/api/v1/remote-sessions", remote_handle_sessions_list, AUTH_USER, ADMIN, 0, R},
    {"DELETE", "/api/v1/remote-sessions/{id}", remote_handle_session_end, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/relays", remote_handle_relays_list, AUTH_USER, ADMIN, 0, R},
    {"POST", "/api/v1/relays", remote_handle_relay_create, AUTH_USER, ADMIN, 4 * KB, W},
    {"DELETE", "/api/v1/relays/{id}", remote_handle_relay_delete, AUTH_USER, ADMIN, 0, W},
    /* the relay's own token ("Bearer vr_..."), checked by the handler */
    {"POST", "/api/v1/relays/{id}/report", remote_handle_relay_report, AUTH_NONE, 0, 256 * KB, W},
    {"GET", "/api/v1/relays/{id}/cuts", remote_handle_relay_cuts, AUTH_NONE, 0, 0, R},

    /* media library (uploads are streamed to disk while hashed) */
    {"GET", "/api/v1/media", content_handle_media_list, AUTH_USER, EDITORS, 0, R},
    {"GET", "/api/v1/media/{sha256}", content_handle_media_get, AUTH_USER, EDITORS, 0, R},
    /* no route transaction: the handler fsyncs first, then writes its row in one of its own */
    {"PUT", "/api/v1/media/{sha256}", content_handle_media_put, AUTH_USER, EDITORS, CONTENT_MAX_UPLOAD, 0,
     &content_media_upload},
    {"PATCH", "/api/v1/media/{sha256}", content_handle_media_update, AUTH_USER, EDITORS, 4 * KB, W},
    {"DELETE", "/api/v1/media/{sha256}", content_handle_media_delete, AUTH_USER, EDITORS, 0, W},
    {"GET", "/api/v1/media/{sha256}/content", content_handle_media_content, AUTH_USER, EDITORS, 0, R},
    {"GET", "/api/v1/media/{sha256}/thumbnail", content_handle_media_thumbnail, AUTH_USER, EDITORS, 0, R},

    /* channels, schedules, reports */
    {"GET", "/api/v1/channels", content_handle_channels_list, AUTH_USER, EDITORS, 0, R},
    {"POST", "/api/v1/channels", content_handle_channel_create, AUTH_USER, ADMIN, 256 * KB, W},
    {"GET", "/api/v1/channels/{id}", content_handle_channel_get, AUTH_USER, EDITORS, 0, R},
    {"PUT", "/api/v1/channels/{id}", content_handle_channel_replace, AUTH_USER, EDITORS, 256 * KB, W},
    {"DELETE", "/api/v1/channels/{id}", content_handle_channel_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/channels/{id}/grants", content_handle_grants_get, AUTH_USER, ADMIN, 0, R},
    {"PUT", "/api/v1/channels/{id}/grants", content_handle_grants_put, AUTH_USER, ADMIN, 64 * KB, W},
    {"GET", "/api/v1/schedules", content_handle_schedules_list, AUTH_USER, EDITORS, 0, R},
    {"POST", "/api/v1/schedules", content_handle_schedule_create, AUTH_USER, ADMIN, 4 * KB, W},
    {"DELETE", "/api/v1/schedules/{id}", content_handle_schedule_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/reports/plays", content_handle_proof_of_play, AUTH_USER, EDITORS, 0, R},

    /* content for screens */
    {"GET", "/api/v1/device/manifest", content_handle_device_manifest, AUTH_DEVICE, 0, 0, W},
    {"GET", "/api/v1/device/objects/{sha256}", content_handle_device_object, AUTH_DEVICE, 0, 0, R},
    {"POST", "/api/v1/device/played", content_handle_device_played, AUTH_DEVICE, 0, 256 * KB, W},

    /* over-the-air updates: the keys trusted to sign releases, and releases
     * (the upload's signature is checked from its headers, then the body is
     * streamed to disk while hashed; no route transaction: the handler
     * fsyncs first, then writes its row in one of its own) */
    {"GET", "/api/v1/release-keys", updates_handle_keys_list, AUTH_USER, ADMIN, 0, R},
    {"POST", "/api/v1/release-keys", updates_handle_key_create, AUTH_USER, ADMIN, 4 * KB, W},
    {"DELETE", "/api/v1/release-keys/{id}", updates_handle_key_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/releases", updates_handle_releases_list, AUTH_USER, SUPPORT, 0, R},
    {"POST", "/api/v1/releases", updates_handle_release_upload, AUTH_USER, ADMIN, UPDATES_RELEASE_LIMIT, 0,
     &updates_release_upload},
    {"GET", "/api/v1/releases/{id}", updates_handle_release_get, AUTH_USER, SUPPORT, 0, R},
    {"DELETE", "/api/v1/releases/{id}", updates_handle_release_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/device/releases/{id}", updates_handle_device_release, AUTH_DEVICE, 0, 0, R},
    {"GET", "/api/v1/device/releases/{id}/signature", updates_handle_device_release_signature, AUTH_DEVICE, 0, 0, R},
    {"GET", "/api/v1/rollouts", updates_handle_rollouts_list, AUTH_USER, ADMIN, 0, R},
    {"POST", "/api/v1/rollouts", updates_handle_rollout_create, AUTH_USER, ADMIN, 16 * KB, W},
    {"GET", "/api/v1/rollouts/{id}", updates_handle_rollout_get, AUTH_USER, ADMIN, 0, R},
    {"POST", "/api/v1/rollouts/{id}/{command}", updates_handle_rollout_command, AUTH_USER, ADMIN, 1 * KB, W},
    {"POST", "/api/v1/device/update-status", updates_handle_device_update_status, AUTH_DEVICE, 0, 4 * KB, W},
    /* the hawkBit DDI device API (TargetToken = the device token), for
     * third-party update clients such as SWUpdate's suricatta */
    {"GET", "/ddi/{tenant}/controller/v1/{controller}", ddi_handle_poll, AUTH_DEVICE, 0, 0, W},
    {"GET", "/ddi/{tenant}/controller/v1/{controller}/deploymentBase/{action}", ddi_handle_deployment, AUTH_DEVICE, 0,
     0, W},
    {"POST", "/ddi/{tenant}/controller/v1/{controller}/deploymentBase/{action}/feedback", ddi_handle_feedback,
     AUTH_DEVICE, 0, 16 * KB, W},
    {"GET", "/ddi/{tenant}/controller/v1/{controller}/softwaremodules/{module}/artifacts/{filename}",
     ddi_handle_artifact, AUTH_DEVICE, 0, 0, R},

    /* live chat (issue 11): sites and departments (admin) */
    {"GET", "/api/v1/sites", chat_handle_sites_list, AUTH_USER, ADMIN, 0, R},
    {"POST", "/api/v1/sites", chat_handle_site_create, AUTH_USER, ADMIN, 16 * KB, W},
    {"GET", "/api/v1/sites/{id}", chat_handle_site_get, AUTH_USER, ADMIN, 0, R},
    {"PATCH", "/api/v1/sites/{id}", chat_handle_site_update, AUTH_USER, ADMIN, 16 * KB, W},
    {"DELETE", "/api/v1/sites/{id}", chat_handle_site_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/chat/departments", chat_handle_departments_list, AUTH_USER, CHATOPS, 0, R},
    {"POST", "/api/v1/chat/departments", chat_handle_department_create, AUTH_USER, ADMIN, 8 * KB, W},
    {"PATCH", "/api/v1/chat/departments/{id}", chat_handle_department_update, AUTH_USER, ADMIN, 8 * KB, W},
    {"DELETE", "/api/v1/chat/departments/{id}", chat_handle_department_delete, AUTH_USER, ADMIN, 0, W},
    {"PUT", "/api/v1/chat/departments/{id}/operators", chat_handle_department_operators, AUTH_USER, ADMIN, 16 * KB, W},
    {"PATCH", "/api/v1/chat/operators/{user_id}", chat_handle_operator_update, AUTH_USER, ADMIN, 1 * KB, W},

    /* live chat: the widget (public; the handlers check the Origin against
     * the site's domains and the visitor token; OPTIONS is the CORS
     * preflight) */
    {"GET", "/widget.js", chat_handle_widget_js, AUTH_NONE, 0, 0, 0},
    {"GET", "/chat/{site}", chat_handle_frame, AUTH_NONE, 0, 0, R},
    {"GET", "/chat/assets/{name}", chat_handle_frame_asset, AUTH_NONE, 0, 0, 0},
    {"POST", "/api/v1/widget/{site}/visitor", chat_handle_visitor, AUTH_NONE, 0, 16 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/visitor", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/chats", chat_handle_widget_chat_create, AUTH_NONE, 0, 64 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/chats", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"GET", "/api/v1/widget/{site}/chats/{id}/events", chat_handle_widget_events, AUTH_NONE, 0, 0, R},
    {"OPTIONS", "/api/v1/widget/{site}/chats/{id}/events", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/chats/{id}/messages", chat_handle_widget_message, AUTH_NONE, 0, 64 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/chats/{id}/messages", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/chats/{id}/typing", chat_handle_widget_typing, AUTH_NONE, 0, 1 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/chats/{id}/typing", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/chats/{id}/read", chat_handle_widget_read, AUTH_NONE, 0, 1 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/chats/{id}/read", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/chats/{id}/end", chat_handle_widget_end, AUTH_NONE, 0, 1 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/chats/{id}/end", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/chats/{id}/forms/{push_id}", chat_handle_widget_form_answer, AUTH_NONE, 0, 64 * KB,
     W},
    {"OPTIONS", "/api/v1/widget/{site}/chats/{id}/forms/{push_id}", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/chats/{id}/transcript", chat_handle_widget_transcript, AUTH_NONE, 0, 1 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/chats/{id}/transcript", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/chats/{id}/call", chat_handle_widget_call, AUTH_NONE, 0, 128 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/chats/{id}/call", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"GET", "/api/v1/widget/{site}/campaigns", chat_handle_widget_campaigns, AUTH_NONE, 0, 0, R},
    {"OPTIONS", "/api/v1/widget/{site}/campaigns", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/campaigns/{id}/{outcome}", chat_handle_widget_campaign_outcome, AUTH_NONE, 0,
     1 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/campaigns/{id}/{outcome}", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},
    {"POST", "/api/v1/widget/{site}/offline-messages", chat_handle_widget_offline, AUTH_NONE, 0, 64 * KB, W},
    {"OPTIONS", "/api/v1/widget/{site}/offline-messages", chat_handle_widget_preflight, AUTH_NONE, 0, 0, R},

    /* live chat: operators (the operator IP allowlist applies) */
    {"PUT", "/api/v1/chat/me/status", chat_handle_my_status, AUTH_USER, CHATOPS, 1 * KB, W},
    {"GET", "/api/v1/chat/stream", chat_handle_operator_stream, AUTH_USER, CHATOPS, 0, R},
    {"GET", "/api/v1/chat/chats", chat_handle_list, AUTH_USER, CHATOPS, 0, R},
    {"GET", "/api/v1/chat/chats/{id}", chat_handle_get, AUTH_USER, CHATOPS, 0, R},
    {"POST", "/api/v1/chat/chats/{id}/pickup", chat_handle_pickup, AUTH_USER, CHATOPS, 1 * KB, W},
    {"POST", "/api/v1/chat/chats/{id}/messages", chat_handle_op_message, AUTH_USER, CHATOPS, 64 * KB, W},
    {"POST", "/api/v1/chat/chats/{id}/typing", chat_handle_op_typing, AUTH_USER, CHATOPS, 1 * KB, W},
    {"POST", "/api/v1/chat/chats/{id}/read", chat_handle_op_read, AUTH_USER, CHATOPS, 1 * KB, W},
    {"POST", "/api/v1/chat/chats/{id}/transfer", chat_handle_transfer, AUTH_USER, CHATOPS, 8 * KB, W},
    {"POST", "/api/v1/chat/chats/{id}/end", chat_handle_op_end, AUTH_USER, CHATOPS, 1 * KB, W},
    {"POST", "/api/v1/chat/chats/{id}/forms", chat_handle_op_form, AUTH_USER, CHATOPS, 1 * KB, W},
    {"POST", "/api/v1/chat/chats/{id}/redirect", chat_handle_op_redirect, AUTH_USER, CHATOPS, 4 * KB, W},
    {"POST", "/api/v1/chat/chats/{id}/call", chat_handle_op_call, AUTH_USER, CHATOPS, 128 * KB, W},
    {"GET", "/api/v1/chat/canned", chat_handle_canned_list, AUTH_USER, CHATOPS, 0, R},
    {"POST", "/api/v1/chat/canned", chat_handle_canned_create, AUTH_USER, ADMIN, 32 * KB, W},
    {"PATCH", "/api/v1/chat/canned/{id}", chat_handle_canned_update, AUTH_USER, ADMIN, 32 * KB, W},
    {"DELETE", "/api/v1/chat/canned/{id}", chat_handle_canned_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/chat/campaigns", chat_handle_campaigns_list, AUTH_USER, CHATOPS, 0, R},
    {"POST", "/api/v1/chat/campaigns", chat_handle_campaign_create, AUTH_USER, ADMIN, 8 * KB, W},
    {"PATCH", "/api/v1/chat/campaigns/{id}", chat_handle_campaign_update, AUTH_USER, ADMIN, 8 * KB, W},
    {"DELETE", "/api/v1/chat/campaigns/{id}", chat_handle_campaign_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/chat/forms", chat_handle_forms_list, AUTH_USER, CHATOPS, 0, R},
    {"POST", "/api/v1/chat/forms", chat_handle_form_create, AUTH_USER, ADMIN, 64 * KB, W},
    {"PATCH", "/api/v1/chat/forms/{id}", chat_handle_form_update, AUTH_USER, ADMIN, 64 * KB, W},
    {"DELETE", "/api/v1/chat/forms/{id}", chat_handle_form_delete, AUTH_USER, ADMIN, 0, W},
    {"GET", "/api/v1/chat/reports", chat_handle_reports, AUTH_USER, ADMIN, 0, R},
    {"GET", "/api/v1/chat/search", chat_handle_search, AUTH_USER, ADMIN, 0, R},
    {"GET", "/api/v1/chat/offline-messages", chat_handle_offline_list, AUTH_USER, CHATOPS, 0, R},
    {"PATCH", "/api/v1/chat/offline-messages/{id}", chat_handle_offline_update, AUTH_USER, CHATOPS, 1 * KB, W},
    {"GET", "/api/v1/chat/bans", chat_handle_bans_list, AUTH_USER, CHATOPS, 0, R},
    {"POST", "/api/v1/chat/bans", chat_handle_ban_create, AUTH_USER, CHATOPS, 4 * KB, W},
    {"DELETE", "/api/v1/chat/bans/{id}", chat_handle_ban_delete, AUTH_USER, CHATOPS, 0, W},
};

const size_t server_routes_count = sizeof server_routes / sizeof server_routes[0];
