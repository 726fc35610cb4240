/**
 * A posted form's fields as strings, uploaded files read as UTF-8 text (a repeated field keeps
 * its last value); a body that is not a form, or is malformed, reads as no fields. The one form
 * reader of the console: urlencoded posts on the portal's thread, uploads in the console worker.
 */
export async function formFields(
  body: ArrayBuffer,
  contentType: string,
): Promise<Record<string, string>> {
  let form: FormData
  try {
    form = await new Response(body, { headers: { 'content-type': contentType } }).formData()
  } catch {
    return {}
  }
  const out: Record<string, string> = {}
  for (const [k, v] of form) out[k] = typeof v === 'string' ? v : await v.text()
  return out
}
