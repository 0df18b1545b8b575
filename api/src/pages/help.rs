//! Help articles: Lodge's own (how to upload, which files, what each state means, what to try when
//! an upload fails) and the firm's, written in Markdown. Raw HTML in an article is shown as text:
//! the pages run no script or style but Lodge's own.

use std::path::Path;

use pulldown_cmark::{Event, Options, Parser};

const BUILT_IN: &[(&str, &str)] = &[
    ("how-to-upload", include_str!("../../pages/help/01-how-to-upload.md")),
    (
        "files-and-sizes",
        include_str!("../../pages/help/02-files-and-sizes.md"),
    ),
    (
        "what-states-mean",
        include_str!("../../pages/help/03-what-states-mean.md"),
    ),
    (
        "troubleshooting",
        include_str!("../../pages/help/04-troubleshooting.md"),
    ),
];

#[derive(Debug, Clone, serde::Serialize)]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub html: String,
    /// Written by the firm rather than shipped with Lodge.
    pub firm: bool,
}

fn article(slug: &str, markdown: &str, firm: bool) -> Article {
    let title = markdown
        .lines()
        .find_map(|line| line.strip_prefix("# "))
        .unwrap_or(slug)
        .trim()
        .to_owned();
    let parser =
        Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
            other => other,
        });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    Article {
        slug: slug.to_owned(),
        title,
        html,
        firm,
    }
}

/// Lodge's articles, then the firm's from `dir` (`*.md`, in name order); a firm article with the
/// name of one of Lodge's replaces it.
pub fn load(dir: Option<&Path>) -> Result<Vec<Article>, String> {
    let mut articles: Vec<Article> = BUILT_IN.iter().map(|(slug, md)| article(slug, md, false)).collect();
    let Some(dir) = dir else { return Ok(articles) };
    let entries = std::fs::read_dir(dir).map_err(|e| format!("the help folder {}: {e}", dir.display()))?;
    let mut paths: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    paths.sort();
    for path in paths {
        let slug: String = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let markdown = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let written = article(&slug, &markdown, true);
        match articles.iter_mut().find(|a| a.slug == slug) {
            Some(existing) => *existing = written,
            None => articles.push(written),
        }
    }
    Ok(articles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lodges_articles_and_the_firms_with_raw_html_shown_as_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Office Hours.md"),
            "# When we answer\n\nMonday to Friday. <script>alert(1)</script>\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("troubleshooting.md"), "# Call us\n\nRing 555.\n").unwrap();
        let articles = load(Some(dir.path())).unwrap();
        let slugs: Vec<&str> = articles.iter().map(|a| a.slug.as_str()).collect();
        assert_eq!(
            slugs,
            [
                "how-to-upload",
                "files-and-sizes",
                "what-states-mean",
                "troubleshooting",
                "office-hours"
            ]
        );
        let firm = &articles[4];
        assert_eq!(firm.title, "When we answer");
        assert!(firm.html.contains("&lt;script&gt;"), "{}", firm.html);
        assert_eq!(articles[3].title, "Call us", "the firm's replaces Lodge's");
        assert!(load(Some(&dir.path().join("missing"))).is_err());
    }
}
