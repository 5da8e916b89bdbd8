#include "pg/gate/standby.hpp"

#include "pg/boundary/refusal.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "nodes/parsenodes.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
}

namespace mpa::pg {

// The statements PostgreSQL 15 refuses in every read-only transaction
// (ClassifyUtilityCommandAsReadOnly in src/backend/tcop/utility.c answers
// COMMAND_IS_NOT_READ_ONLY for them), checked at the top of
// standard_ProcessUtility, before anything is done: a transaction begun
// during recovery is read-only to its end, a promotion notwithstanding. And
// COPY FROM: refused during recovery there, and by DoCopy in a read-only
// transaction for any table but a temporary one, which a transaction begun
// during recovery cannot have. The other statements PostgreSQL refuses
// during recovery (VACUUM, CLUSTER, REINDEX, LISTEN, NOTIFY, strong LOCKs,
// two-phase commit) are refused only while recovery lasts: a promotion
// between the gate and PostgreSQL's check would let them run, so the gate
// judges them. A statement missing here is judged too (fail closed).
bool refused_by_postgres_during_recovery(Node *parsetree) {
  switch (nodeTag(parsetree)) {
    case T_AlterCollationStmt:
    case T_AlterDatabaseRefreshCollStmt:
    case T_AlterDatabaseSetStmt:
    case T_AlterDatabaseStmt:
    case T_AlterDefaultPrivilegesStmt:
    case T_AlterDomainStmt:
    case T_AlterEnumStmt:
    case T_AlterEventTrigStmt:
    case T_AlterExtensionContentsStmt:
    case T_AlterExtensionStmt:
    case T_AlterFdwStmt:
    case T_AlterForeignServerStmt:
    case T_AlterFunctionStmt:
    case T_AlterObjectDependsStmt:
    case T_AlterObjectSchemaStmt:
    case T_AlterOpFamilyStmt:
    case T_AlterOperatorStmt:
    case T_AlterOwnerStmt:
    case T_AlterPolicyStmt:
    case T_AlterPublicationStmt:
    case T_AlterRoleSetStmt:
    case T_AlterRoleStmt:
    case T_AlterSeqStmt:
    case T_AlterStatsStmt:
    case T_AlterSubscriptionStmt:
    case T_AlterTSConfigurationStmt:
    case T_AlterTSDictionaryStmt:
    case T_AlterTableMoveAllStmt:
    case T_AlterTableSpaceOptionsStmt:
    case T_AlterTableStmt:
    case T_AlterTypeStmt:
    case T_AlterUserMappingStmt:
    case T_CommentStmt:
    case T_CompositeTypeStmt:
    case T_CreateAmStmt:
    case T_CreateCastStmt:
    case T_CreateConversionStmt:
    case T_CreateDomainStmt:
    case T_CreateEnumStmt:
    case T_CreateEventTrigStmt:
    case T_CreateExtensionStmt:
    case T_CreateFdwStmt:
    case T_CreateForeignServerStmt:
    case T_CreateForeignTableStmt:
    case T_CreateFunctionStmt:
    case T_CreateOpClassStmt:
    case T_CreateOpFamilyStmt:
    case T_CreatePLangStmt:
    case T_CreatePolicyStmt:
    case T_CreatePublicationStmt:
    case T_CreateRangeStmt:
    case T_CreateRoleStmt:
    case T_CreateSchemaStmt:
    case T_CreateSeqStmt:
    case T_CreateStatsStmt:
    case T_CreateStmt:
    case T_CreateSubscriptionStmt:
    case T_CreateTableAsStmt:
    case T_CreateTableSpaceStmt:
    case T_CreateTransformStmt:
    case T_CreateTrigStmt:
    case T_CreateUserMappingStmt:
    case T_CreatedbStmt:
    case T_DefineStmt:
    case T_DropOwnedStmt:
    case T_DropRoleStmt:
    case T_DropStmt:
    case T_DropSubscriptionStmt:
    case T_DropTableSpaceStmt:
    case T_DropUserMappingStmt:
    case T_DropdbStmt:
    case T_GrantRoleStmt:
    case T_GrantStmt:
    case T_ImportForeignSchemaStmt:
    case T_IndexStmt:
    case T_ReassignOwnedStmt:
    case T_RefreshMatViewStmt:
    case T_RenameStmt:
    case T_RuleStmt:
    case T_SecLabelStmt:
    case T_TruncateStmt:
    case T_ViewStmt:
      return true;
    case T_CopyStmt:
      return castNode(CopyStmt, parsetree)->is_from;
    default:
      return false;
  }
}

// Replay brings mpa.database's tables to the standby, but a backend of
// another database cannot read them, and what mpa.database publishes to
// shared memory (on a primary its worker, after every change) is not kept
// current during recovery: replay moves no policy generation, and no worker
// runs. So nothing here says whether a team governs pg_mpa: fail closed.
void refuse_without_current_policies(const char *what) {
  refuse({psprintf("%s on a standby outside database \"%s\"", what, settings::database), nullptr,
          psprintf("%s is refused here: this server is a standby, and pg_mpa cannot read the current policies in "
                   "database \"%s\"",
                   what, get_database_name(MyDatabaseId)),
          "pg_mpa's policies are replayed into its own database; the copy other databases use is not kept "
          "current during recovery.",
          psprintf("Run it in database \"%s\" on this standby, where the replayed policies are read, or on the "
                   "primary.",
                   settings::database)});
}

const char *const kStandbyRefusalDetail =
    "This server is a standby: approvals can be neither recorded nor spent on it.";
const char *const kStandbyRefusalHint =
    "Ask for approval with mpa_request() on the primary and run the statement there; a setting for this "
    "standby alone belongs in its postgresql.conf.";

}  // namespace mpa::pg
