/* SQL of the KPI feature: schema migration and statements. */
#ifndef BSL_STORE_KPI_SQL_H
#define BSL_STORE_KPI_SQL_H

#define SQL_MIGRATION_KPI "SELECT 1;"

#endif
