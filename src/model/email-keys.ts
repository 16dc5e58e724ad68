/** The columns that place an email row (as raw SQL returns them): which company, lead, sequence and enrollment. */
export interface EmailKeys {
  id: string;
  company_id: string;
  lead_id: string;
  sequence_id: string;
  enrollment_id: string;
  email_number: number;
}
