-- spec/support/stub.lua -- the Lua code of the loopback test server's locations: one file per
-- stand-in under spec/support/stub/ (<platform>.lua, signed.lua for Standard Webhooks,
-- control.lua for /sink and the control endpoints, common.lua for what they share), put
-- together here under the names nginx.conf calls.
--
-- Owned by the test harness. Runs INSIDE nginx (lua-nginx-module on LuaJIT), loaded through the
-- lua_package_path set in spec/support/nginx.conf; spec/support/server.lua is the client side.
--
-- What it does:
--   * records requests (method, raw path, raw query, lowercase headers, raw body, arrival time)
--     into the "requests" shared dict, in arrival order;
--   * plays a Feishu custom bot (/open-apis/bot/v2/hook/<token>): JSON checks, the signature
--     check (HMAC-SHA256 through OpenSSL's libcrypto via FFI), keywords, and forced answers
--     configured per token in the "bots" shared dict;
--   * plays a generic webhook receiver (/webhook/...) driven by query args;
--   * plays Slack, DingTalk, WeCom, Discord, Telegram, Teams (Workflows), Matrix, PagerDuty,
--     Opsgenie, Bark, ServerChan, PushPlus, ntfy (/ntfy/), Gotify (/gotify/), Pushover
--     (/1/messages.json), Mattermost (/mm/hooks/), Rocket.Chat (/rc/hooks/), Google Chat
--     (/v1/spaces/) and a Standard Webhooks receiver
--     (spec/support/stub/<name>.lua; configs in the "platforms" shared dict);
--   * applies forced behaviour set per path prefix (server.behave, "behave" shared dict) in
--     every recording stand-in, before its own checks;
--   * answers /sink/... after an optional delay without recording;
--   * serves the control endpoints (/_requests, /_count, /_reset, /_control/bot/<token>,
--     /_control/dingtalk/<token>, /_control/signed/<name>, /_control/behave).

local M = { hmac_sha256 = require("stub.common").hmac_sha256 }

-- Each file's handlers (its M.<name> functions) become this module's.
for _, file in ipairs({ "feishu", "webhook", "slack", "dingtalk", "wecom", "discord", "telegram",
    "teams", "signed", "control", "matrix", "pagerduty", "opsgenie", "bark", "serverchan",
    "pushplus", "ntfy", "gotify", "pushover", "mattermost", "rocketchat", "googlechat" }) do
  for name, fn in pairs(require("stub." .. file)) do
    if type(fn) == "function" and name ~= "check_opts" then
      assert(M[name] == nil, "stub: two stand-ins define " .. name)
      M[name] = fn
    end
  end
end

return M
