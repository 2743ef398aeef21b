//! `GET /branding/logo`: the operator's logo file, read at start-up (`[branding]`).

use http::{HeaderValue, StatusCode, header};

use crate::app::App;
use crate::config::Logo;
use crate::http::response::{Resp, image, not_found};

pub fn show(app: &App) -> Resp {
    let Some(Logo::File {
        bytes,
        content_type,
    }) = &app.config.branding.logo
    else {
        return not_found();
    };
    let mut r = image(StatusCode::OK, content_type, bytes.clone());
    // The file changes only with a restart; a day's caching spares every page view a fetch.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r
}
