#!/usr/bin/python3
"""spec/support/smtp_client.py -- send one message with Python's smtplib (harness self-test).

Owned by the test harness: spec/platform_harness_spec.lua uses it to check
spec/support/smtp_server.py with a client independent of notifyhub.

Usage: smtp_client.py '<json>' where the JSON object has
  host, port; mode: "plain" | "starttls" | "tls" (implicit TLS);
  ca_file: CA to verify the server against (omitted: the system CAs);
  verify: false to skip certificate verification;
  user, password: log in when user is set; mech: "PLAIN" | "LOGIN" (omitted: smtplib picks);
  raw_auth: true to send "AUTH PLAIN <initial response>" even when AUTH is not advertised
    (a refusal is reported as error "AuthRefused" with the server's code);
  mail_from, rcpt_tos (array), data (the message text).
Prints one JSON object:
  {"ok": true, "refused": {"rcpt": [code, "text"]}, "features": [...], "features_tls": [...]}
  {"ok": false, "error": "<exception class>", "code": n or null, "message": "...",
   "recipients": {"rcpt": [code, "text"]} (SMTPRecipientsRefused only)}
"""

import base64
import json
import smtplib
import ssl
import sys


def main():
    a = json.loads(sys.argv[1])
    ctx = ssl.create_default_context(cafile=a.get("ca_file"))
    if a.get("verify") is False:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    mode = a.get("mode", "plain")
    out = {"ok": False}
    try:
        if mode == "tls":
            s = smtplib.SMTP_SSL(a["host"], a["port"], context=ctx, timeout=10)
        else:
            s = smtplib.SMTP(a["host"], a["port"], timeout=10)
        with s:
            s.ehlo("client.test")
            out["features"] = sorted(s.esmtp_features)
            if mode == "starttls":
                s.starttls(context=ctx)
                s.ehlo("client.test")
                out["features_tls"] = sorted(s.esmtp_features)
            if a.get("user") is not None:
                mech = a.get("mech")
                if a.get("raw_auth"):
                    cred = "\0%s\0%s" % (a["user"], a.get("password", ""))
                    code, resp = s.docmd("AUTH", "PLAIN " + base64.b64encode(
                        cred.encode("utf-8")).decode("ascii"))
                    if code != 235:
                        out.update(error="AuthRefused", code=code,
                                   message=resp.decode("utf-8", "replace"))
                        print(json.dumps(out))
                        return 0
                elif mech:
                    s.user, s.password = a["user"], a.get("password", "")
                    s.auth(mech, getattr(s, "auth_" + mech.lower()),
                           initial_response_ok=(mech != "LOGIN"))
                else:
                    s.login(a["user"], a.get("password", ""))
            refused = s.sendmail(a["mail_from"], a["rcpt_tos"], a["data"].encode("utf-8"))
            out["ok"] = True
            out["refused"] = {k: [v[0], v[1].decode("utf-8", "replace")]
                              for k, v in refused.items()}
    except smtplib.SMTPRecipientsRefused as e:
        out.update(error=type(e).__name__, code=None, message=str(e),
                   recipients={k: [v[0], v[1].decode("utf-8", "replace")]
                               for k, v in e.recipients.items()})
    except smtplib.SMTPResponseException as e:
        msg = e.smtp_error
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        out.update(error=type(e).__name__, code=e.smtp_code, message=msg)
    except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
        out.update(error=type(e).__name__, code=None, message=str(e))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
