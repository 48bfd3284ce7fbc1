"""SRU diagnostics (info:srw/diagnostic/1/N): the numbers and default texts we use."""

from __future__ import annotations

from marc.search.query import Problem, QueryError

DIAGNOSTIC_PREFIX = "info:srw/diagnostic/1/"

GENERAL_ERROR = 1
UNSUPPORTED_OPERATION = 4
UNSUPPORTED_VERSION = 5
UNSUPPORTED_PARAMETER_VALUE = 6
MANDATORY_PARAMETER_MISSING = 7
UNSUPPORTED_PARAMETER = 8
QUERY_SYNTAX_ERROR = 10
UNSUPPORTED_CONTEXT_SET = 15
UNSUPPORTED_INDEX = 16
UNSUPPORTED_RELATION = 19
UNSUPPORTED_RELATION_MODIFIER = 20
UNSUPPORTED_RELATION_FOR_INDEX = 22
TERM_FORMAT_FOR_RELATION = 24
EMPTY_TERM = 27
MASKING_NOT_SUPPORTED = 28
ANCHOR_IN_UNSUPPORTED_POSITION = 32
TERM_INVALID_FOR_INDEX = 36
UNSUPPORTED_BOOLEAN = 37
UNSUPPORTED_PROXIMITY_RELATION = 40
UNSUPPORTED_PROXIMITY_DISTANCE = 41
UNSUPPORTED_PROXIMITY_UNIT = 42
UNSUPPORTED_BOOLEAN_MODIFIER = 46
QUERY_FEATURE_UNSUPPORTED = 48
RESULT_SET_DOES_NOT_EXIST = 51
FIRST_RECORD_OUT_OF_RANGE = 61
UNKNOWN_SCHEMA = 66
UNSUPPORTED_RECORD_PACKING = 71
SORT_NOT_SUPPORTED = 80
STYLESHEETS_NOT_SUPPORTED = 110
SCAN_POSITION_OUT_OF_RANGE = 120
TOO_MANY_SCAN_TERMS = 121

MESSAGES = {
    GENERAL_ERROR: "General system error",
    UNSUPPORTED_OPERATION: "Unsupported operation",
    UNSUPPORTED_VERSION: "Unsupported version",
    UNSUPPORTED_PARAMETER_VALUE: "Unsupported parameter value",
    MANDATORY_PARAMETER_MISSING: "Mandatory parameter not supplied",
    UNSUPPORTED_PARAMETER: "Unsupported parameter",
    QUERY_SYNTAX_ERROR: "Query syntax error",
    UNSUPPORTED_CONTEXT_SET: "Unsupported context set",
    UNSUPPORTED_INDEX: "Unsupported index",
    UNSUPPORTED_RELATION: "Unsupported relation",
    UNSUPPORTED_RELATION_MODIFIER: "Unsupported relation modifier",
    UNSUPPORTED_RELATION_FOR_INDEX: "Unsupported combination of relation and index",
    TERM_FORMAT_FOR_RELATION: "Unsupported combination of relation and term",
    EMPTY_TERM: "Empty term unsupported",
    MASKING_NOT_SUPPORTED: "Masking character not supported",
    ANCHOR_IN_UNSUPPORTED_POSITION: "Anchoring character in unsupported position",
    TERM_INVALID_FOR_INDEX: "Term in invalid format for index or relation",
    UNSUPPORTED_BOOLEAN: "Unsupported boolean operator",
    UNSUPPORTED_PROXIMITY_RELATION: "Unsupported proximity relation",
    UNSUPPORTED_PROXIMITY_DISTANCE: "Unsupported proximity distance",
    UNSUPPORTED_PROXIMITY_UNIT: "Unsupported proximity unit",
    UNSUPPORTED_BOOLEAN_MODIFIER: "Unsupported boolean modifier",
    QUERY_FEATURE_UNSUPPORTED: "Query feature unsupported",
    RESULT_SET_DOES_NOT_EXIST: "Result set does not exist",
    FIRST_RECORD_OUT_OF_RANGE: "First record position out of range",
    UNKNOWN_SCHEMA: "Unknown schema for retrieval",
    UNSUPPORTED_RECORD_PACKING: "Unsupported record packing",
    SORT_NOT_SUPPORTED: "Sort not supported",
    STYLESHEETS_NOT_SUPPORTED: "Stylesheets not supported",
    SCAN_POSITION_OUT_OF_RANGE: "Response position out of range",
    TOO_MANY_SCAN_TERMS: "Too many terms requested",
}

# How a search-layer problem is reported over SRU.
FOR_PROBLEM = {
    Problem.UNSUPPORTED_INDEX: UNSUPPORTED_INDEX,
    Problem.UNSUPPORTED_RELATION: UNSUPPORTED_RELATION_FOR_INDEX,
    Problem.UNSUPPORTED_TRUNCATION: MASKING_NOT_SUPPORTED,
    Problem.EMPTY_TERM: EMPTY_TERM,
    Problem.TERM_FORMAT: TERM_INVALID_FOR_INDEX,
    Problem.UNSUPPORTED_PROXIMITY: QUERY_FEATURE_UNSUPPORTED,
    Problem.UNKNOWN_RESULT_SET: RESULT_SET_DOES_NOT_EXIST,
}


class SruDiagnostic(Exception):
    """A fatal SRU diagnostic: the response carries it instead of records."""

    def __init__(self, number: int, details: str = "", message: str | None = None) -> None:
        self.number = number
        self.details = details
        self.message = message or MESSAGES.get(number, "Error")
        super().__init__(f"{self.uri}: {self.message}" + (f" ({details})" if details else ""))

    @property
    def uri(self) -> str:
        return f"{DIAGNOSTIC_PREFIX}{self.number}"

    @classmethod
    def from_query_error(cls, error: QueryError) -> SruDiagnostic:
        return cls(FOR_PROBLEM[error.problem], error.detail or str(error))
