#pragma once
// RAII owners of LMDB's handles, private to the spool. Every function returns LMDB's own result
// code (MDB_SUCCESS, MDB_NOTFOUND, ...); the store decides what an error means.
//
// The rule these classes exist for: LMDB frees a write transaction's cursors when the transaction
// commits or aborts, while a read-only transaction's cursors must be closed by hand. A cursor
// closed after its write transaction ended is a double free. So a Txn owns its cursor and closes it
// before the transaction ends, whichever way it ends and whatever order the C++ objects go in.
#include <lmdb.h>

#include <memory>
#include <string>

namespace archer::spool::lmdb {

struct EnvDeleter {
  void operator()(MDB_env* env) const noexcept { mdb_env_close(env); }
};
using EnvPtr = std::unique_ptr<MDB_env, EnvDeleter>;

struct TxnDeleter {
  void operator()(MDB_txn* txn) const noexcept { mdb_txn_abort(txn); }
};
using TxnPtr = std::unique_ptr<MDB_txn, TxnDeleter>;

// Only ever reset while its transaction is live (Txn guarantees it).
struct CursorDeleter {
  void operator()(MDB_cursor* cursor) const noexcept { mdb_cursor_close(cursor); }
};
using CursorPtr = std::unique_ptr<MDB_cursor, CursorDeleter>;

inline std::string error_text(int rc) { return mdb_strerror(rc); }

// One transaction, aborted unless committed, with at most one cursor of its own.
class Txn {
 public:
  Txn() = default;
  ~Txn() { abort(); }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // flags: 0 for a write transaction, MDB_RDONLY for a read-only one.
  int begin(MDB_env* env, unsigned flags) {
    MDB_txn* raw = nullptr;
    const int rc = mdb_txn_begin(env, nullptr, flags, &raw);
    txn_.reset(raw);
    return rc;
  }
  // Opens the transaction's cursor on `dbi` (replacing a previous one).
  int open_cursor(MDB_dbi dbi) {
    close_cursor();
    MDB_cursor* raw = nullptr;
    const int rc = mdb_cursor_open(txn_.get(), dbi, &raw);
    cursor_.reset(raw);
    return rc;
  }
  void close_cursor() { cursor_.reset(); }
  // Closes the cursor, then commits. The transaction is over whatever the result.
  int commit() {
    close_cursor();
    return mdb_txn_commit(txn_.release());
  }
  void abort() {
    close_cursor();
    txn_.reset();
  }

  MDB_txn* get() const { return txn_.get(); }
  MDB_cursor* cursor() const { return cursor_.get(); }

 private:
  TxnPtr txn_;
  CursorPtr cursor_;  // declared after txn_, so even an implicit destruction closes it first
};

}  // namespace archer::spool::lmdb
