//! What the native baselines share: writing users the way the components do.

/// `INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4), ...`
/// for `rows` rows: one statement per batch, as the seed component writes.
pub fn insert_statement(rows: usize) -> String {
    let placeholders: Vec<String> = (0..rows)
        .map(|r| {
            format!(
                "(${}, ${}, ${}, ${})",
                4 * r + 1,
                4 * r + 2,
                4 * r + 3,
                4 * r + 4
            )
        })
        .collect();
    format!(
        "INSERT INTO users (id, name, email, created_at) VALUES {}",
        placeholders.join(", ")
    )
}
