//! `heso://approval/<action_hash>` links: the one form the app opens.

use heso_receipt::canonical::is_lower_hex_64;

pub const SCHEME: &str = "heso";

/// The action hash a link points at, or why it is not one the app opens.
pub fn approval_hash(link: &str) -> Result<String, String> {
    let url = url::Url::parse(link).map_err(|e| format!("`{link}` is not a link: {e}"))?;
    let plain_host = url.username().is_empty() && url.password().is_none() && url.port().is_none();
    if url.scheme() != SCHEME || url.host_str() != Some("approval") || !plain_host {
        return Err(format!(
            "`{link}` is not a heso://approval/<action hash> link"
        ));
    }
    let path = url.path();
    let hash = path
        .strip_prefix('/')
        .map(|p| p.strip_suffix('/').unwrap_or(p))
        .unwrap_or_default();
    if !is_lower_hex_64(hash) || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{link}` does not name an action hash (64 lowercase hex characters)"
        ));
    }
    Ok(hash.to_owned())
}

/// The link that opens the approval with `action_hash`.
pub fn approval_link(action_hash: &str) -> String {
    format!("{SCHEME}://approval/{action_hash}")
}

/// The first `heso://` argument of a command line, if any.
pub fn in_args<'a>(args: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    args.into_iter()
        .find(|a| a.starts_with(&format!("{SCHEME}://")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_approval_links_with_a_hash_open() {
        let hash = "0f".repeat(32);
        assert_eq!(
            approval_hash(&format!("heso://approval/{hash}")).unwrap(),
            hash
        );
        assert_eq!(
            approval_hash(&format!("heso://approval/{hash}/")).unwrap(),
            hash
        );
        assert_eq!(approval_hash(&approval_link(&hash)).unwrap(), hash);
        for bad in [
            format!("https://approval/{hash}"),
            format!("heso://audit/{hash}"),
            format!("heso://approval/{}", hash.to_uppercase()),
            format!("heso://approval/{hash}?approve=1"),
            format!("heso://user:pw@approval/{hash}"),
            format!("heso://approval:99/{hash}"),
            format!("heso://approval//{hash}"),
            format!("heso://approval/{hash}//"),
            "heso://approval/".to_owned(),
            "not a link".to_owned(),
        ] {
            assert!(approval_hash(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            in_args(["app", "--background", "heso://x"]),
            Some("heso://x")
        );
        assert_eq!(in_args(["app"]), None);
    }
}
