import { describe, expect, it } from 'vitest'
import { formFields } from '../src/console/form.js'

const bytes = (text: string) => new TextEncoder().encode(text).buffer as ArrayBuffer

describe('console form reading', () => {
  it('reads a urlencoded post and a multipart upload into the same fields', async () => {
    const urlencoded = await formFields(
      bytes('_csrf=t0k&name=Ana+Mar%C3%ADa&a=1&a=2'),
      'application/x-www-form-urlencoded',
    )
    const multipart = new FormData()
    multipart.set('_csrf', 't0k')
    multipart.set('name', 'Ana María')
    multipart.append('a', '1')
    multipart.append('a', '2')
    const request = new Request('http://x/', { method: 'POST', body: multipart })
    const upload = await formFields(
      await request.arrayBuffer(),
      request.headers.get('content-type')!,
    )
    const expected = { _csrf: 't0k', name: 'Ana María', a: '2' }
    expect(urlencoded).toEqual(expected)
    expect(upload).toEqual(expected)
  })

  it('reads an uploaded file as its UTF-8 text', async () => {
    const form = new FormData()
    form.set('file', new Blob(['phone,campaign\n+52 55 1234 5678,Día 1\n']), 'sends.csv')
    const request = new Request('http://x/', { method: 'POST', body: form })
    expect(
      await formFields(await request.arrayBuffer(), request.headers.get('content-type')!),
    ).toEqual({ file: 'phone,campaign\n+52 55 1234 5678,Día 1\n' })
  })

  it('reads anything that is not a well-formed form as no fields', async () => {
    expect(await formFields(bytes('{"_csrf":"t0k"}'), 'application/json')).toEqual({})
    expect(await formFields(bytes('_csrf=t0k'), 'text/plain')).toEqual({})
    expect(await formFields(bytes('_csrf=t0k'), '')).toEqual({})
    expect(await formFields(bytes('junk'), 'multipart/form-data; boundary=x')).toEqual({})
    expect(await formFields(new ArrayBuffer(0), 'application/x-www-form-urlencoded')).toEqual({})
  })
})
