//! A browser for the portal: a cookie jar over a client that does not follow redirects, and
//! the form fields a page carries.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;

/// A client that does not follow redirects, so tests see every hop.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// A browser: a cookie jar and a client that does not follow redirects.
pub struct Browser {
    pub http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self {
            http: client(),
            cookies: HashMap::new(),
        }
    }
}

/// One response as a browser saw it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn absorb(&mut self, r: reqwest::Response) -> Page {
        for c in r.headers().get_all("set-cookie") {
            if let Some((k, rest)) = c.to_str().unwrap_or_default().split_once('=') {
                let v = rest.split(';').next().unwrap_or_default();
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        Page {
            status: r.status(),
            location: r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            headers: r.headers().clone(),
            body: r.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let r = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.absorb(r).await
    }

    /// Posts an email-and-password form (sign-in or sign-up) with its CSRF token.
    pub async fn post_credentials(
        &mut self,
        form: &str,
        email: &str,
        password: &str,
        csrf: &str,
    ) -> Page {
        self.post(
            form,
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", csrf),
            ],
        )
        .await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.absorb(r).await
    }
}
