//! Shared plumbing for the list models: each model's row type names its roles once, and
//! `roleNames()`/`data()` follow from that.

use cxx_qt_lib::{
    QByteArray, QHash, QHashPair_i32_QByteArray, QList, QMap, QMapPair_QString_QVariant,
    QModelIndex, QString, QVariant,
};

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

/// `rows` as a list of maps keyed by role name: a small list QML reads as an array of
/// objects (breadcrumbs, the archive chooser, chart bars) without a model of its own.
pub fn variant_list<R: Row>(rows: &[R]) -> QList<QVariant> {
    let mut list = QList::<QVariant>::default();
    for row in rows {
        let mut map = QMap::<QMapPair_QString_QVariant>::default();
        for (role, name) in R::ROLES.iter().enumerate() {
            map.insert(QString::from(*name), row.value(role));
        }
        list.append(QVariant::from(&map));
    }
    list
}

pub fn row_count<R>(rows: &[R]) -> i32 {
    i32::try_from(rows.len()).unwrap_or(i32::MAX)
}

/// The Rust side of a list model whose rows are the `rows: Vec<$row>` field of its Rust
/// struct: `data`, `roleNames` and `rowCount` (declared in the bridge with `#[cxx_override]`)
/// and `replace_rows`, a model reset. The bridge declarations stay in each bridge, where
/// cxx-qt needs them.
macro_rules! list_model {
    ($model:ty, $row:ty) => {
        impl $model {
            /// Shows `rows` instead of the current ones (a model reset).
            #[allow(dead_code)]
            fn replace_rows(mut self: core::pin::Pin<&mut Self>, rows: Vec<$row>) {
                // SAFETY: begin/end reset always come in pairs here.
                unsafe {
                    self.as_mut().begin_reset_model();
                    cxx_qt::CxxQtType::rust_mut(self.as_mut()).rows = rows;
                    self.as_mut().end_reset_model();
                }
            }

            fn data(&self, index: &cxx_qt_lib::QModelIndex, role: i32) -> cxx_qt_lib::QVariant {
                $crate::gui::list_rows::data(&self.rows, index, role)
            }

            fn role_names(&self) -> cxx_qt_lib::QHash<cxx_qt_lib::QHashPair_i32_QByteArray> {
                $crate::gui::list_rows::role_names::<$row>()
            }

            fn row_count(&self, _parent: &cxx_qt_lib::QModelIndex) -> i32 {
                $crate::gui::list_rows::row_count(&self.rows)
            }
        }
    };
}
pub(crate) use list_model;
