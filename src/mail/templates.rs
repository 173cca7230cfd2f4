//! Mail templates: a subject, a plain-text and an HTML body per kind, built in, each
//! replaceable by a file of the same name in `MAIL_TEMPLATES_DIR` (`password_reset.subject`,
//! `password_reset.txt`, `password_reset.html`, …). Placeholders: `{{link}}`, `{{app_url}}`,
//! `{{new_email}}`, `{{ttl_minutes}}`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;

use super::Kind;

/// The three parts of one kind's mail.
#[derive(Debug, Clone)]
pub struct Template {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone)]
pub struct Templates(HashMap<&'static str, Template>);

/// What a template may say.
pub struct Values<'a> {
    pub link: &'a str,
    pub app_url: &'a str,
    pub new_email: &'a str,
    pub ttl_minutes: u64,
}

/// A rendered mail.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn built_in(kind: Kind) -> Template {
    let (subject, text, html) = match kind {
        Kind::PasswordReset => (
            include_str!("templates/password_reset.subject"),
            include_str!("templates/password_reset.txt"),
            include_str!("templates/password_reset.html"),
        ),
        Kind::VerifyEmail => (
            include_str!("templates/verify_email.subject"),
            include_str!("templates/verify_email.txt"),
            include_str!("templates/verify_email.html"),
        ),
        Kind::EmailChanged => (
            include_str!("templates/email_changed.subject"),
            include_str!("templates/email_changed.txt"),
            include_str!("templates/email_changed.html"),
        ),
    };
    Template { subject: subject.trim().to_string(), text: text.to_string(), html: html.to_string() }
}

impl Templates {
    /// The built-in templates, with each file found in `dir` in place of its built-in part. A
    /// file that exists but cannot be read stops the startup, naming it.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Templates> {
        let mut all = HashMap::new();
        for kind in Kind::ALL {
            let mut template = built_in(kind);
            if let Some(dir) = dir {
                for (ext, part) in [("subject", &mut template.subject), ("txt", &mut template.text), ("html", &mut template.html)] {
                    let path = dir.join(format!("{}.{ext}", kind.as_str()));
                    if path.exists() {
                        let text = std::fs::read_to_string(&path)
                            .with_context(|| format!("MAIL_TEMPLATES_DIR: cannot read {}", path.display()))?;
                        *part = if ext == "subject" { text.trim().to_string() } else { text };
                        log::info!("mail template {} from {}", path.file_name().unwrap_or_default().to_string_lossy(), dir.display());
                    }
                }
            }
            all.insert(kind.as_str(), template);
        }
        Ok(Templates(all))
    }

    pub fn render(&self, kind: Kind, values: &Values<'_>) -> Rendered {
        // unwrap: `load` puts every kind in.
        let template = &self.0[kind.as_str()];
        let fill = |text: &str, escape: fn(&str) -> String| {
            text.replace("{{link}}", &escape(values.link))
                .replace("{{app_url}}", &escape(values.app_url))
                .replace("{{new_email}}", &escape(values.new_email))
                .replace("{{ttl_minutes}}", &values.ttl_minutes.to_string())
        };
        // Security: a subject is one header line: no line break from a value may start another.
        let subject = fill(&template.subject, |v| v.replace(['\r', '\n'], " "));
        Rendered { subject, text: fill(&template.text, str::to_string), html: fill(&template.html, html_escape) }
    }
}

/// Security: values go into the HTML body escaped, so an address cannot inject markup.
fn html_escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values<'static> {
        Values { link: "https://app.example/reset?token=abc", app_url: "https://app.example", new_email: "<b>@x.y", ttl_minutes: 30 }
    }

    #[test]
    fn the_built_in_templates_carry_the_link_in_both_bodies() {
        let rendered = Templates::load(None).unwrap().render(Kind::PasswordReset, &values());
        assert!(rendered.text.contains("https://app.example/reset?token=abc"));
        assert!(rendered.html.contains("https://app.example/reset?token=abc"));
        assert!(rendered.text.contains("30 minutes"));
        assert!(!rendered.subject.contains('\n'));
    }

    #[test]
    fn values_are_escaped_in_html() {
        let rendered = Templates::load(None).unwrap().render(Kind::EmailChanged, &values());
        assert!(rendered.html.contains("&lt;b&gt;@x.y"));
        assert!(rendered.text.contains("<b>@x.y"));
    }

    #[test]
    fn a_file_in_the_templates_dir_replaces_its_part_only() {
        let dir = std::env::temp_dir().join(format!("gh-templates-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("verify_email.subject"), "Bitte bestätigen\n").unwrap();
        let rendered = Templates::load(Some(&dir)).unwrap().render(Kind::VerifyEmail, &values());
        assert_eq!(rendered.subject, "Bitte bestätigen");
        assert!(rendered.text.contains("confirm"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
