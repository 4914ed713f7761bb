//! `uses = "notify"`: the run's result, posted to a chat webhook.
//!
//! Slack incoming webhooks take `{"text": …}`; Microsoft Teams workflow webhooks an Adaptive Card
//! in a `message` envelope (the connector `MessageCard` format is retired); Discord `{"content":
//! …}` of at most 2,000 characters; a generic webhook a JSON body from a minijinja template (the
//! whole summary by default). Every text passes through the run's redactor first.

use serde::Serialize;

use crate::release::redact::Redactor;

/// A notification step's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub kind: NotifyKind,
    /// The URL posted to. It is a secret of its own (whoever has it can post), so it is never shown.
    pub webhook: String,
    /// Which outcomes are announced.
    pub on: Vec<When>,
    /// For `webhook`: the body template, rendered with the summary's fields.
    pub body: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyKind {
    Slack,
    Teams,
    Discord,
    Webhook,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Slack => "slack",
            NotifyKind::Teams => "teams",
            NotifyKind::Discord => "discord",
            NotifyKind::Webhook => "webhook",
        }
    }
}

/// An outcome a notification is sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Success,
    Failure,
}

impl When {
    pub fn as_str(self) -> &'static str {
        match self {
            When::Success => "success",
            When::Failure => "failure",
        }
    }
}

/// What a notification tells: the run, and the failed step with the end of its log.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub pipeline: String,
    pub run: String,
    /// `success` or `failure`.
    pub status: &'static str,
    /// The commit the run started from.
    pub commit: String,
    pub steps: Vec<StepSummary>,
    /// The first step that failed.
    pub failed_step: Option<String>,
    /// The last lines of its log, redacted.
    pub log_tail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub name: String,
    pub status: &'static str,
    pub elapsed_ms: u64,
}

impl Summary {
    fn headline(&self) -> String {
        let short = &self.commit[..self.commit.len().min(12)];
        match &self.failed_step {
            None => format!(
                "{} succeeded at {short}: {} steps",
                self.pipeline,
                self.steps.len()
            ),
            Some(step) => format!("{} failed at {short}: step `{step}` failed", self.pipeline),
        }
    }

    fn text(&self, limit: usize) -> String {
        let mut text = self.headline();
        if let Some(tail) = &self.log_tail {
            let room = limit.saturating_sub(text.len() + 10);
            let tail = clip_start(tail, room);
            if !tail.is_empty() {
                text.push_str("\n```\n");
                text.push_str(tail);
                text.push_str("\n```");
            }
        }
        text
    }
}

/// The last `room` bytes of `text`, starting at a line when one starts there.
fn clip_start(text: &str, room: usize) -> &str {
    if text.len() <= room {
        return text;
    }
    let mut start = text.len() - room;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let rest = &text[start..];
    rest.find('\n').map_or(rest, |i| &rest[i + 1..])
}

/// The JSON body posted for `summary`.
pub fn payload(notify: &Notify, summary: &Summary) -> Result<String, String> {
    let value = match notify.kind {
        NotifyKind::Slack => serde_json::json!({ "text": summary.text(3000) }),
        NotifyKind::Discord => serde_json::json!({ "content": summary.text(2000) }),
        NotifyKind::Teams => serde_json::json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": teams_body(summary),
                }
            }]
        }),
        NotifyKind::Webhook => {
            return match &notify.body {
                None => serde_json::to_string(summary).map_err(|e| e.to_string()),
                Some(template) => {
                    let mut env = minijinja::Environment::new();
                    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
                    env.render_str(template, summary)
                        .map_err(|e| format!("the notification body template: {e}"))
                }
            };
        }
    };
    Ok(value.to_string())
}

fn teams_body(summary: &Summary) -> serde_json::Value {
    let mut body = vec![serde_json::json!({
        "type": "TextBlock",
        "text": summary.headline(),
        "weight": "Bolder",
        "wrap": true,
    })];
    if let Some(tail) = &summary.log_tail {
        body.push(serde_json::json!({
            "type": "TextBlock",
            "text": clip_start(tail, 4000),
            "fontType": "Monospace",
            "wrap": true,
        }));
    }
    serde_json::Value::Array(body)
}

/// Posts the notification; `Err` says why, without the webhook's address.
pub fn send(
    agent: &ureq::Agent,
    notify: &Notify,
    summary: &Summary,
    redactor: &Redactor,
) -> Result<(), String> {
    if notify.webhook.is_empty() {
        return Err(
            "the webhook is empty: set the variable `with.webhook` reads, or declare it in the pipeline's `secrets` so that a run without it stops before it starts"
                .to_owned(),
        );
    }
    let body = redactor.redact(&payload(notify, summary)?);
    let host = crate::release::forge::host_of(&notify.webhook)
        .unwrap_or("the webhook")
        .to_owned();
    let response = agent
        .post(&notify.webhook)
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .map_err(|e| {
            format!(
                "could not reach {host}: {}",
                redactor.redact(&e.to_string())
            )
        })?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!(
            "{host} answered {status} to the {} notification",
            notify.kind.as_str()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(failed: bool) -> Summary {
        Summary {
            pipeline: "release".into(),
            run: "r1".into(),
            status: if failed { "failure" } else { "success" },
            commit: "0123456789abcdef".into(),
            steps: vec![StepSummary {
                name: "test".into(),
                status: if failed { "failed" } else { "succeeded" },
                elapsed_ms: 5,
            }],
            failed_step: failed.then(|| "test".into()),
            log_tail: failed.then(|| "line 1\nerror: boom".into()),
        }
    }

    fn notify(kind: NotifyKind, body: Option<&str>) -> Notify {
        Notify {
            kind,
            webhook: "http://127.0.0.1:1/hook".into(),
            on: vec![When::Failure],
            body: body.map(str::to_owned),
        }
    }

    #[test]
    fn payloads_have_each_services_shape() {
        let s = summary(true);
        let slack: serde_json::Value =
            serde_json::from_str(&payload(&notify(NotifyKind::Slack, None), &s).unwrap()).unwrap();
        assert!(
            slack["text"]
                .as_str()
                .unwrap()
                .contains("step `test` failed")
        );
        assert!(slack["text"].as_str().unwrap().contains("error: boom"));
        let teams: serde_json::Value =
            serde_json::from_str(&payload(&notify(NotifyKind::Teams, None), &s).unwrap()).unwrap();
        assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
        let body = payload(
            &notify(
                NotifyKind::Webhook,
                Some(r#"{"s": "{{ status }}", "f": "{{ failed_step }}"}"#),
            ),
            &s,
        )
        .unwrap();
        assert_eq!(body, r#"{"s": "failure", "f": "test"}"#);
        let e = payload(&notify(NotifyKind::Webhook, Some("{{ nope }}")), &s).unwrap_err();
        assert!(e.contains("body template"), "{e}");
    }

    #[test]
    fn discord_content_stays_under_its_limit() {
        let mut s = summary(true);
        s.log_tail = Some("x\n".repeat(5000));
        let d: serde_json::Value =
            serde_json::from_str(&payload(&notify(NotifyKind::Discord, None), &s).unwrap())
                .unwrap();
        assert!(d["content"].as_str().unwrap().len() <= 2000);
    }
}
