//! `limit` + opaque `cursor` pagination, the same on every list.

use serde::Serialize;
use summer_sdk::http::Request;
use summer_sdk::wide::{self, Order, WideRow};
use summer_sdk::{ApiError, Value, cursor};

/// Page size when the request names none.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page a request may ask for.
pub const MAX_LIMIT: u32 = 100;

/// One page of a list: `next_cursor` is present when more items follow.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items fetched in order: the extra item
    /// only says that another page follows, whose cursor is the position
    /// (`position_of`) of this page's last item.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: u32,
        position_of: impl Fn(&T) -> String,
    ) -> Self {
        let limit = limit as usize;
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            cursor::encode(&position_of(&items[limit - 1]))
        });
        Self { items, next_cursor }
    }

    /// A page of `items` already sorted by `position_of`: those after the
    /// request's cursor, at most `limit` of them.
    pub fn after_cursor(
        items: Vec<T>,
        after: Option<&str>,
        limit: u32,
        position_of: impl Fn(&T) -> String,
    ) -> Self {
        let rest = items
            .into_iter()
            .filter(|item| after.is_none_or(|after| position_of(item).as_str() > after))
            .take(limit as usize + 1)
            .collect();
        Self::from_overfetch(rest, limit, position_of)
    }
}

/// `?limit=N&cursor=C` over one partition of a wide table, newest first:
/// a page of its rows read by `from_row`, with the table's own cursor.
pub fn wide_page<T>(
    request: &Request,
    table: &str,
    partition: &[Value],
    from_row: fn(&WideRow) -> Result<T, ApiError>,
) -> Result<Page<T>, ApiError> {
    let limit = limit(request)?;
    let cursor = raw_cursor(request)?;
    let page = wide::scan(
        table,
        partition,
        Order::Descending,
        limit,
        cursor.as_deref(),
    )?;
    let items = page
        .rows
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items,
        next_cursor: page.next,
    })
}

/// The request's `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]).
pub fn limit(request: &Request) -> Result<u32, ApiError> {
    let Some(limit) = request.query_param("limit")? else {
        return Ok(DEFAULT_LIMIT);
    };
    match limit.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!(
            "limit must be a whole number from 1 to {MAX_LIMIT}"
        ))),
    }
}

/// The position the request's `cursor` stands for, if it has one.
pub fn after(request: &Request) -> Result<Option<String>, ApiError> {
    raw_cursor(request)?.map(|c| cursor::decode(&c)).transpose()
}

/// The request's `cursor` as given, for cursors a capability made. An
/// empty `?cursor=` is no cursor: the first page.
pub fn raw_cursor(request: &Request) -> Result<Option<String>, ApiError> {
    Ok(request.query_param("cursor")?.filter(|c| !c.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use summer_sdk::http::Method;

    fn get(query: &str) -> Request {
        Request::new(Method::Get, &format!("/x?{query}"), vec![])
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(limit(&get("")).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(&get("limit=1")).unwrap(), 1);
        assert_eq!(limit(&get("limit=100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            let err = limit(&get(&format!("limit={bad}"))).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
        }
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let items: Vec<u32> = (10..35).collect();
        let position = |n: &u32| format!("{n:04}");
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let page = Page::after_cursor(items.clone(), after.as_deref(), 10, position);
            seen.extend(page.items);
            match page.next_cursor {
                Some(c) => after = Some(cursor::decode(&c).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn an_exact_last_page_has_no_cursor() {
        let page = Page::from_overfetch(vec![1, 2], 2, u32::to_string);
        assert_eq!(page.next_cursor, None);
        let page = Page::from_overfetch(vec![1, 2, 3], 2, u32::to_string);
        assert_eq!(page.items, [1, 2]);
        assert_eq!(cursor::decode(&page.next_cursor.unwrap()).unwrap(), "2");
    }

    #[test]
    fn unreadable_cursors_are_a_400() {
        assert_eq!(after(&get("cursor=!!")).unwrap_err().status, 400);
    }

    #[test]
    fn an_empty_cursor_is_the_first_page() {
        assert_eq!(after(&get("cursor=")).unwrap(), None);
        assert_eq!(raw_cursor(&get("cursor=")).unwrap(), None);
        assert_eq!(after(&get("limit=5&cursor=")).unwrap(), None);
    }
}
