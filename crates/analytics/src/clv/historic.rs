//! Historic CLV: what each customer has brought in up to a date — revenue, and margin when a
//! margin rate is given (margin = revenue × rate, the usual contribution-margin definition).
//! Revenue is exact integer minor units; margin, being a product with a rate, is `f64`.

use crate::{Day, Transaction};

/// One customer's history up to the as-of date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoricClv {
    /// Customer index.
    pub customer: u32,
    /// Number of purchases (transactions).
    pub orders: u32,
    /// Sum of amounts, minor units.
    pub revenue: i64,
    /// Revenue × margin rate, when a rate was given.
    pub margin: Option<f64>,
    /// Day of the first purchase.
    pub first_day: Day,
    /// Day of the last purchase.
    pub last_day: Day,
}

impl HistoricClv {
    /// Mean revenue per order (minor units).
    pub fn average_order_value(&self) -> f64 {
        self.revenue as f64 / f64::from(self.orders.max(1))
    }
}

/// Streaming accumulator (any order; O(customers) memory).
#[derive(Debug, Clone, Default)]
pub struct HistoricBuilder {
    as_of: Day,
    rows: Vec<(u32, i64, Day, Day)>,
}

impl HistoricBuilder {
    /// Count purchases on or before `as_of`.
    pub fn new(as_of: Day) -> Self {
        Self {
            as_of,
            rows: Vec::new(),
        }
    }

    /// Add one purchase.
    pub fn push(&mut self, tx: Transaction) {
        if tx.day > self.as_of {
            return;
        }
        let i = tx.customer as usize;
        if i >= self.rows.len() {
            self.rows.resize(i + 1, (0, 0, Day::MAX, Day::MIN));
        }
        let r = &mut self.rows[i];
        r.0 += 1;
        r.1 += tx.amount;
        r.2 = r.2.min(tx.day);
        r.3 = r.3.max(tx.day);
    }

    /// One row per customer with at least one purchase, by customer index.
    pub fn finish(self, margin_rate: Option<f64>) -> Vec<HistoricClv> {
        self.rows
            .into_iter()
            .enumerate()
            .filter(|(_, r)| r.0 > 0)
            .map(|(i, (orders, revenue, first_day, last_day))| HistoricClv {
                customer: i as u32,
                orders,
                revenue,
                margin: margin_rate.map(|m| revenue as f64 * m),
                first_day,
                last_day,
            })
            .collect()
    }
}

/// Historic CLV of every customer with a purchase on or before `as_of`.
pub fn historic_clv(
    transactions: &[Transaction],
    as_of: Day,
    margin_rate: Option<f64>,
) -> Vec<HistoricClv> {
    let mut b = HistoricBuilder::new(as_of);
    for &t in transactions {
        b.push(t);
    }
    b.finish(margin_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_revenue_and_margin_to_date() {
        let t = |customer, day, amount| Transaction {
            customer,
            day,
            amount,
        };
        let txs = [
            t(1, 5, 1000),
            t(1, 2, 250),
            t(1, 30, 9999),
            t(0, 3, -100),
            t(0, 3, 300),
        ];
        let h = historic_clv(&txs, 10, Some(0.25));
        assert_eq!(h.len(), 2);
        assert_eq!(
            (h[0].orders, h[0].revenue, h[0].first_day, h[0].last_day),
            (2, 200, 3, 3)
        );
        assert_eq!(
            (h[1].orders, h[1].revenue, h[1].first_day, h[1].last_day),
            (2, 1250, 2, 5)
        );
        assert_eq!(h[1].margin, Some(312.5));
        assert_eq!(h[1].average_order_value(), 625.0);
        assert_eq!(historic_clv(&txs, 10, None)[0].margin, None);
    }
}
