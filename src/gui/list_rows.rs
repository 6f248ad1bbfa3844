//! Shared plumbing for the list models: each model's row type names its roles once, and
//! `roleNames()`/`data()` follow from that.

use cxx_qt_lib::{QByteArray, QHash, QHashPair_i32_QByteArray, QModelIndex, QVariant};

/// Qt::UserRole: custom roles start here.
const USER_ROLE: i32 = 0x0100;

pub trait Row {
    /// Role names as QML sees them, in role order.
    const ROLES: &'static [&'static str];
    fn value(&self, role: usize) -> QVariant;
}

pub fn role_names<R: Row>() -> QHash<QHashPair_i32_QByteArray> {
    let mut roles = QHash::<QHashPair_i32_QByteArray>::default();
    for (i, name) in R::ROLES.iter().enumerate() {
        roles.insert(USER_ROLE + i as i32, QByteArray::from(*name));
    }
    roles
}

pub fn data<R: Row>(rows: &[R], index: &QModelIndex, role: i32) -> QVariant {
    let row = usize::try_from(index.row()).ok().and_then(|r| rows.get(r));
    let role = usize::try_from(role - USER_ROLE).ok();
    match (row, role) {
        (Some(row), Some(role)) if role < R::ROLES.len() => row.value(role),
        _ => QVariant::default(),
    }
}

pub fn row_count<R>(rows: &[R]) -> i32 {
    i32::try_from(rows.len()).unwrap_or(i32::MAX)
}
