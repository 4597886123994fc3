//! The HTML of `report.html`: one file, images inlined as `data:` URIs, no scripts, no
//! stylesheet or font fetched from anywhere, so it opens the same offline and when mailed.

use base64::Engine;

/// HTML-escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An `<img>` of PNG bytes inlined as a data URI.
pub fn png_img(png: &[u8], alt: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    format!(
        "<img alt=\"{}\" src=\"data:image/png;base64,{b64}\">",
        escape(alt)
    )
}

/// A table with a header row; cells are escaped.
pub fn table(class: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("<table class=\"{}\">\n<tr>", escape(class));
    for h in header {
        s += &format!("<th>{}</th>", escape(h));
    }
    s += "</tr>\n";
    for r in rows {
        s += "<tr>";
        for c in r {
            s += &format!("<td>{}</td>", escape(c));
        }
        s += "</tr>\n";
    }
    s + "</table>\n"
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}\
img{max-width:100%;display:block;margin:.6em 0;border:1px solid #eee}\
.curves img{display:inline-block;width:49%;vertical-align:top;margin-right:1%}\
.curves img[alt=\"loss.png\"]{width:99%}\
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}.note{color:#666}";

/// The whole page: `title` and `(heading, body html)` sections.
pub fn page(title: &str, sections: &[(String, String)]) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    for (heading, body) in sections {
        s += &format!("<h2>{}</h2>\n{body}\n", escape(heading));
    }
    s + "</body>\n</html>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_inlined_images() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        let img = png_img(&[0x89, b'P', b'N', b'G'], "x\"y");
        assert_eq!(
            img,
            "<img alt=\"x&quot;y\" src=\"data:image/png;base64,iVBORw==\">"
        );
        let t = table("probe", &["a", "b"], &[vec!["<1>".into(), "2".into()]]);
        assert!(t.contains("<td>&lt;1&gt;</td><td>2</td>"), "{t}");
        let p = page("run <a>", &[("probe".into(), t)]);
        assert!(p.starts_with("<!DOCTYPE html>") && p.contains("<h2>probe</h2>"));
        assert!(!p.contains("http"), "nothing fetched from anywhere");
    }
}
